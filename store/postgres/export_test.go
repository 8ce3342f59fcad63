package postgres

// PrefixEnd and PageSize are exported for the package's tests.
var PrefixEnd = prefixEnd

const PageSize = pageSize
