(compound_statement) @scope
(do_group) @scope
(subshell) @scope
