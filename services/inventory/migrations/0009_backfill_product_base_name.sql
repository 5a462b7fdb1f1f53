-- Custom SQL migration file, put your code below! --
-- Products that existed before base_name. When the current name was written by a rename that is
-- still APPLIED (perhaps still in flight), the base is the name that rename replaced, one version
-- below it, so reverting it restores that name as before; otherwise the current name is the base.
UPDATE `products` p
  LEFT JOIN `product_renames` r ON r.`sku` = p.`sku` AND r.`version` = p.`name_version` AND r.`status` = 'APPLIED'
  SET p.`base_name` = COALESCE(r.`from_name`, p.`name`),
      p.`base_name_version` = COALESCE(r.`version` - 1, p.`name_version`);
