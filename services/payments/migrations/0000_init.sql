CREATE TABLE `idempotency_keys` (
	`idem_key` varchar(200) NOT NULL,
	`request_hash` char(64) NOT NULL,
	`status_code` int NOT NULL,
	`response_body` text NOT NULL,
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	CONSTRAINT `idempotency_keys_idem_key` PRIMARY KEY(`idem_key`)
);
--> statement-breakpoint
CREATE TABLE `payments` (
	`payment_id` varchar(36) NOT NULL,
	`order_id` varchar(64) NOT NULL,
	`amount_cents` int NOT NULL,
	`status` varchar(16) NOT NULL,
	`card_last4` char(4),
	`created_at` timestamp(3) NOT NULL DEFAULT (now()),
	`updated_at` timestamp(3) NOT NULL DEFAULT (now()) ON UPDATE CURRENT_TIMESTAMP,
	CONSTRAINT `payments_payment_id` PRIMARY KEY(`payment_id`),
	CONSTRAINT `payments_order_id_unique` UNIQUE(`order_id`)
);
