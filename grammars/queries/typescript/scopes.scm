(statement_block) @scope
(class_body) @scope
(interface_body) @scope
(enum_body) @scope
(object) @scope
(switch_body) @scope
