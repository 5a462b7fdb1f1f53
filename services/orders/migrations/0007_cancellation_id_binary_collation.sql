-- cancellation_id is an ID (the CancelOrder saga's run, <workflowId>.<firstExecutionRunId>): compared
-- byte for byte like every other ID column (see 0003_id_columns_binary_collation; drizzle cannot
-- declare a collation).
ALTER TABLE `orders` MODIFY COLUMN `cancellation_id` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
