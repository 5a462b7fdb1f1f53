ALTER TABLE `orders` ADD `cancellation_id` varchar(128);--> statement-breakpoint
ALTER TABLE `orders` ADD `cancellation_reverted` boolean DEFAULT false NOT NULL;