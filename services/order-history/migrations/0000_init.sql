CREATE TABLE `inbox` (
	`event_id` char(36) NOT NULL,
	`consumer` varchar(64) NOT NULL,
	`type` varchar(64) NOT NULL,
	`stream_seq` bigint unsigned NOT NULL,
	`outcome` varchar(16) NOT NULL,
	`applied_at` timestamp(3) NOT NULL DEFAULT (now()),
	CONSTRAINT `inbox_event_id` PRIMARY KEY(`event_id`)
);
--> statement-breakpoint
CREATE TABLE `order_history` (
	`order_id` varchar(64) NOT NULL,
	`customer_id` varchar(64),
	`order_status` varchar(16),
	`total_cents` bigint,
	`lines` text,
	`order_version` int NOT NULL DEFAULT 0,
	`ordered_at` timestamp(3),
	`payment_status` varchar(16),
	`payment_amount_cents` bigint,
	`payment_version` int NOT NULL DEFAULT 0,
	`shipment_status` varchar(16),
	`shipment_country` char(2),
	`shipment_version` int NOT NULL DEFAULT 0,
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `order_history_order_id` PRIMARY KEY(`order_id`)
);
--> statement-breakpoint
CREATE INDEX `order_history_customer` ON `order_history` (`customer_id`,`ordered_at`);