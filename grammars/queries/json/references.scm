(string_content) @reference
