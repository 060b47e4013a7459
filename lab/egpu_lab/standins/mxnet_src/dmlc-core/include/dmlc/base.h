/* Stand-in of dmlc-core's include/dmlc/base.h (dmlc/dmlc-core@87b7ffa). */
#ifndef DMLC_BASE_H_
#define DMLC_BASE_H_
namespace dmlc {
int StandinVersion();
}
#endif
