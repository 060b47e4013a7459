// Stand-in of MXNet's engine (src/engine/).
#include <mxnet/base.h>
extern "C" int MXEngineSetBulkSize(int size, int *prev) { *prev = 15; return size < 0; }
