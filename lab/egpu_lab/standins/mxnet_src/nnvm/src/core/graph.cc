// Stand-in of nnvm's src/core/graph.cc.
#include <nnvm/base.h>
namespace nnvm {
int GraphNodeCount() { return 0; }
}
