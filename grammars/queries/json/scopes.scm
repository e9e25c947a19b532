(object) @scope
(array) @scope
