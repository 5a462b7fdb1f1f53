CREATE TABLE `idempotency_keys` (
	`idem_key` varchar(200) NOT NULL,
	`request_hash` char(64) NOT NULL,
	`status_code` int NOT NULL,
	`response_body` text NOT NULL,
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	CONSTRAINT `idempotency_keys_idem_key` PRIMARY KEY(`idem_key`)
);
--> statement-breakpoint
CREATE TABLE `order_lines` (
	`order_id` varchar(64) NOT NULL,
	`sku` varchar(64) NOT NULL,
	`quantity` int NOT NULL,
	`product_name` varchar(100),
	`name_version` int NOT NULL DEFAULT 0,
	`unit_price_cents` int,
	CONSTRAINT `order_lines_order_id_sku_pk` PRIMARY KEY(`order_id`,`sku`)
);
--> statement-breakpoint
CREATE TABLE `orders` (
	`order_id` varchar(64) NOT NULL,
	`customer_id` varchar(64),
	`status` varchar(16) NOT NULL,
	`tombstone` boolean NOT NULL DEFAULT false,
	`total_cents` int,
	`cancel_reason` varchar(255),
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `orders_order_id` PRIMARY KEY(`order_id`)
);
--> statement-breakpoint
CREATE TABLE `product_names` (
	`sku` varchar(64) NOT NULL,
	`name` varchar(100) NOT NULL,
	`version` int NOT NULL,
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `product_names_sku` PRIMARY KEY(`sku`)
);
