"""CSV import of contacts and cases: reading any office's CSV, checking every row, writing all or the valid ones."""
