"""Documents on any record: versioned files kept in a storage (a folder by default), rows in the database."""
