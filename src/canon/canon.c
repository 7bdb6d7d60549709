#include "canon/canon.h"

const char *canon_op_path(enum canon_op op)
{
    switch (op) {
    case CANON_CHAT: return "/chat/completions";
    case CANON_COMPLETION: return "/completions";
    case CANON_EMBEDDING: return "/embeddings";
    }
    return "";
}

const char *canon_op_name(enum canon_op op)
{
    switch (op) {
    case CANON_CHAT: return "chat";
    case CANON_COMPLETION: return "text_completion";
    case CANON_EMBEDDING: return "embeddings";
    }
    return "";
}
