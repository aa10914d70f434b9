#define ATTO_VERSION "0.1.0"
