(block) @scope
(class_body) @scope
(interface_body) @scope
(enum_body) @scope
(constructor_body) @scope
(switch_block) @scope
