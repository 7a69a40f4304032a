// zlib's inflate, for decoding the PNG screenshot in EvalTests (the report rendering check).
#include <zlib.h>
