CREATE TABLE `idempotency_keys` (
	`idem_key` varchar(200) NOT NULL,
	`request_hash` char(64) NOT NULL,
	`status_code` int NOT NULL,
	`response_body` text NOT NULL,
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	CONSTRAINT `idempotency_keys_idem_key` PRIMARY KEY(`idem_key`)
);
--> statement-breakpoint
CREATE TABLE `product_renames` (
	`rename_id` varchar(128) NOT NULL,
	`sku` varchar(64) NOT NULL,
	`status` varchar(16) NOT NULL,
	`from_name` varchar(255),
	`to_name` varchar(255),
	`version` int,
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	CONSTRAINT `product_renames_rename_id` PRIMARY KEY(`rename_id`)
);
--> statement-breakpoint
CREATE TABLE `products` (
	`sku` varchar(64) NOT NULL,
	`name` varchar(255) NOT NULL,
	`name_version` int NOT NULL DEFAULT 1,
	`price_cents` int NOT NULL,
	`available` int NOT NULL,
	`reserved` int NOT NULL DEFAULT 0,
	`committed` int NOT NULL DEFAULT 0,
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `products_sku` PRIMARY KEY(`sku`)
);
--> statement-breakpoint
CREATE TABLE `reservation_lines` (
	`order_id` varchar(64) NOT NULL,
	`sku` varchar(64) NOT NULL,
	`quantity` int NOT NULL,
	`product_name` varchar(255) NOT NULL,
	`name_version` int NOT NULL,
	`unit_price_cents` int NOT NULL,
	CONSTRAINT `reservation_lines_order_id_sku_pk` PRIMARY KEY(`order_id`,`sku`)
);
--> statement-breakpoint
CREATE TABLE `reservations` (
	`order_id` varchar(64) NOT NULL,
	`status` varchar(16) NOT NULL,
	`tombstone` boolean NOT NULL DEFAULT false,
	`total_cents` int NOT NULL DEFAULT 0,
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `reservations_order_id` PRIMARY KEY(`order_id`)
);
