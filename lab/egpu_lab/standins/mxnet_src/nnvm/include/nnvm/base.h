/* Stand-in of nnvm's include/nnvm/base.h (dmlc/nnvm@e4a138a): it builds on dmlc-core's headers, found through
 * DMLC_CORE_PATH (what MXNet's Makefile passes to nnvm's make). */
#ifndef NNVM_BASE_H_
#define NNVM_BASE_H_
#include <dmlc/base.h>
namespace nnvm {
int GraphNodeCount();
}
#endif
