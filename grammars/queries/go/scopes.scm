(block) @scope
(field_declaration_list) @scope
(interface_type) @scope
(literal_value) @scope
