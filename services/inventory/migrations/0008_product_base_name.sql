ALTER TABLE `products` ADD `base_name` varchar(255) NOT NULL;--> statement-breakpoint
ALTER TABLE `products` ADD `base_name_version` int NOT NULL;--> statement-breakpoint
CREATE INDEX `product_renames_sku_version` ON `product_renames` (`sku`,`version`);