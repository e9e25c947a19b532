(statement_block) @scope
(class_body) @scope
(object) @scope
(switch_body) @scope
