(block) @scope
(table_constructor) @scope
