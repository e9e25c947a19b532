(compound_statement) @scope
(field_declaration_list) @scope
(declaration_list) @scope
(enumerator_list) @scope
(initializer_list) @scope
