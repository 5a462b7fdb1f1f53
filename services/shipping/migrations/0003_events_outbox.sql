CREATE TABLE `outbox` (
	`seq` bigint unsigned AUTO_INCREMENT NOT NULL,
	`event_id` char(36) NOT NULL,
	`aggregate` varchar(32) NOT NULL,
	`aggregate_id` varchar(64) NOT NULL,
	`version` int NOT NULL,
	`type` varchar(64) NOT NULL,
	`subject` varchar(200) NOT NULL,
	`body` text NOT NULL,
	`occurred_at` timestamp(3) NOT NULL DEFAULT (now()),
	`sent_at` timestamp(3),
	`stream_seq` bigint unsigned,
	CONSTRAINT `outbox_seq` PRIMARY KEY(`seq`),
	CONSTRAINT `outbox_event_id` UNIQUE(`event_id`),
	CONSTRAINT `outbox_aggregate_version` UNIQUE(`aggregate`,`aggregate_id`,`version`)
);
--> statement-breakpoint
CREATE TABLE `outbox_versions` (
	`aggregate` varchar(32) NOT NULL,
	`aggregate_id` varchar(64) NOT NULL,
	`version` int NOT NULL,
	CONSTRAINT `outbox_versions_aggregate_aggregate_id_pk` PRIMARY KEY(`aggregate`,`aggregate_id`)
);
--> statement-breakpoint
CREATE INDEX `outbox_unsent` ON `outbox` (`sent_at`,`seq`);