int MXEngineSetBulkSize(int size, int *prev) { *prev = 15; return size < 0; }
