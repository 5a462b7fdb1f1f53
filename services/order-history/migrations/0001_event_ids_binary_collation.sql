-- Order and customer IDs compare byte for byte, as in the services the events come from (their
-- id_columns_binary_collation migrations): ORDER-1 and order-1 are two orders.
ALTER TABLE `order_history` MODIFY COLUMN `order_id` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, MODIFY COLUMN `customer_id` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;--> statement-breakpoint
ALTER TABLE `inbox` MODIFY COLUMN `event_id` char(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
