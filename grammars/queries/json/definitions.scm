; Top-level keys of a document.
(document (object (pair key: (string (string_content) @name)) @definition.variable))
