/* version.h — the version atto reports (atto version, the Server header stays "atto"). */
#define ATTO_VERSION "0.1.0"
