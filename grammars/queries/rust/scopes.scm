(block) @scope
(declaration_list) @scope
(field_declaration_list) @scope
(enum_variant_list) @scope
(match_block) @scope
