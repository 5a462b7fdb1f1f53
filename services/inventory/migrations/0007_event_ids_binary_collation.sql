-- Aggregate IDs are the services' IDs (order IDs, SKUs), which compare byte for byte everywhere
-- (0002/0003/0005 id_columns_binary_collation): ORDER-1 and order-1 are two aggregates with their
-- own version sequences. Event IDs are lower-case UUIDs; they get the same rule for uniformity.
ALTER TABLE `outbox` MODIFY COLUMN `event_id` char(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, MODIFY COLUMN `aggregate_id` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;--> statement-breakpoint
ALTER TABLE `outbox_versions` MODIFY COLUMN `aggregate_id` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;