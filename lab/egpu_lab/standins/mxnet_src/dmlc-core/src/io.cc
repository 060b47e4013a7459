// Stand-in of dmlc-core's src/io.cc.
#include <dmlc/base.h>
namespace dmlc {
int StandinVersion() { return 87; }
}
