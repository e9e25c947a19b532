(import_statement source: (string (string_fragment) @import.path)) @import
(lexical_declaration (variable_declarator value: (call_expression function: (identifier) @_require arguments: (arguments (string (string_fragment) @import.path)))) (#eq? @_require "require")) @import
