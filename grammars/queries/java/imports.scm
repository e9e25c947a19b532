(import_declaration [(scoped_identifier) (identifier)] @import.path) @import
(package_declaration) @import
