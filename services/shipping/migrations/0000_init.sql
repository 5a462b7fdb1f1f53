CREATE TABLE `idempotency_keys` (
	`idem_key` varchar(200) NOT NULL,
	`request_hash` char(64) NOT NULL,
	`status_code` int NOT NULL,
	`response_body` text NOT NULL,
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	CONSTRAINT `idempotency_keys_idem_key` PRIMARY KEY(`idem_key`)
);
--> statement-breakpoint
CREATE TABLE `shipments` (
	`shipment_id` varchar(36) NOT NULL,
	`order_id` varchar(64) NOT NULL,
	`status` varchar(16) NOT NULL,
	`tombstone` boolean NOT NULL DEFAULT false,
	`name` varchar(200),
	`line1` varchar(200),
	`city` varchar(100),
	`postal_code` varchar(20),
	`country` char(2),
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `shipments_shipment_id` PRIMARY KEY(`shipment_id`),
	CONSTRAINT `shipments_order_id_unique` UNIQUE(`order_id`)
);
