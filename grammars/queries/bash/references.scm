(variable_name) @reference
(command_name (word) @reference)
