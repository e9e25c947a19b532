(command name: (command_name (word) @_source) argument: (_) @import.path (#eq? @_source "source")) @import
(command name: (command_name (word) @_source) argument: (_) @import.path (#eq? @_source ".")) @import
