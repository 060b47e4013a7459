/* Stand-in of MXNet's headers: the feature macros the build sets, as one string the Python package reads. */
#ifndef MXNET_STANDIN_H_
#define MXNET_STANDIN_H_
#define MX_STR2(x) #x
#define MX_STR(x) MX_STR2(x)
#define MXNET_VERSION 10000
int MXGetVersion(int *out);
#endif
