(preproc_include path: (_) @import.path) @import
(using_declaration) @import
