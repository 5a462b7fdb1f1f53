-- Custom SQL migration file, put your code below! --
-- Products that existed before stock_total: their total is what their counters add up to now.
UPDATE `products` SET `stock_total` = `available` + `reserved` + `committed`;
