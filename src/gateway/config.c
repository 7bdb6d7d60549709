/* The configuration loader: YAML text -> an immutable, reference-counted struct config.
 *
 * Design decisions:
 *  1. libfyaml's event parser builds our own small tree (struct ynode), not libfyaml's document: the
 *     0.7 API has no start position for a mapping or a sequence node, and every message here must
 *     say LINE:COL. Events carry marks, so every node of our tree knows where it starts.
 *  2. Anchors, aliases and merge keys (`<<: *base`) are resolved while the tree is built. An alias
 *     points at the anchored node (shared, never copied), so "billion laughs" input stays linear;
 *     the one walk that could expand shared nodes (model_info -> JSON) is capped, and the pointers
 *     copied by merge keys are counted against YN_MAX_MERGED. An anchor is usable once its node is
 *     complete, so an alias can never form a cycle.
 *  3. Syntax errors come from libfyaml's diag object in collect mode: line, column and message,
 *     nothing printed to stderr. libfyaml stops at its first syntax error, so there is one of them.
 *  4. Validation reports every problem it finds, never only the first, each as
 *     "NAME:LINE:COL: path: message" with the dotted path of the value (`models[0].weight`).
 *     Scalars are interpolated only when a field reads them, so an error about an environment
 *     variable points at the scalar that names it, and api_key can treat an unset variable as
 *     "disable this deployment" instead of an error.
 *  5. Deployments are collected per group name (native `models`, LiteLLM's repeated `model_name`,
 *     or both), checked together (ids), and only the enabled ones reach struct config.
 *  6. Field tables (struct dfield) describe the deployment keys of both spellings, so the valid-key
 *     lists in messages and the parsing can't drift apart.
 *  7. libfyaml 0.7.12 (Debian 12) decodes a few scalar shapes wrongly without saying so, and leaks
 *     on one of them. scalar_misread recognises them from the source text and the scalar is refused
 *     with a message saying how to write it, so no value silently differs from the file.
 *
 * Limits: the file is at most CONFIG_MAX_FILE_BYTES, nesting at most YN_MAX_DEPTH levels, one
 * model_info at most CONFIG_MAX_MODEL_INFO_BYTES as JSON, and at most CONFIG_MAX_ERRORS messages are
 * listed (then one line says more were left out).
 */
#include "gateway/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/str.h"

#define YN_MAX_DEPTH 64          /* nesting deeper than this is an error (ours and model_info's) */
#define YN_MAX_MERGED 1000000    /* pairs copied by `<<` merge keys in one file */
#define QUOTE_MAX 60             /* bytes of a user value quoted in a message */

/* ------------------------------------------------------------------------------------------------
 * A tiny string -> index hash table (open addressing, FNV-1a). Keys are borrowed, not copied.
 */
struct strmap_ent {
    const char *s;
    size_t len;
    size_t val;
};

struct strmap {
    struct strmap_ent *e;
    size_t cap, n;
};

static uint64_t strmap_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Returns the slot holding s, or the empty slot where it would go. */
static struct strmap_ent *strmap_slot(const struct strmap *m, const char *s, size_t len)
{
    size_t i = (size_t)strmap_hash(s, len) & (m->cap - 1);
    for (;;) {
        struct strmap_ent *e = &m->e[i];
        if (!e->s || (e->len == len && memcmp(e->s, s, len) == 0))
            return e;
        i = (i + 1) & (m->cap - 1);
    }
}

/* Returns the value stored for s, or NULL. */
static size_t *strmap_get(const struct strmap *m, const char *s, size_t len)
{
    if (!m->cap)
        return NULL;
    struct strmap_ent *e = strmap_slot(m, s, len);
    return e->s ? &e->val : NULL;
}

/* Stores val for s (replacing an earlier value); s must stay valid while the map is used. */
static void strmap_put(struct strmap *m, const char *s, size_t len, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct strmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 16;
        m->e = xcalloc(m->cap, sizeof *m->e);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].s)
                *strmap_slot(m, old.e[i].s, old.e[i].len) = old.e[i], m->n++;
        free(old.e);
    }
    struct strmap_ent *e = strmap_slot(m, s, len);
    if (!e->s)
        m->n++;
    e->s = s;
    e->len = len;
    e->val = val;
}

static void strmap_free(struct strmap *m)
{
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------------------------------
 * The loader context: where messages go, the path of the value being read, and what is being built.
 */
struct dbuild {
    struct deployment d;
    const struct ynode *at;         /* the deployment's mapping */
    const struct ynode *id_at;      /* the `id` value, or NULL when the id is generated */
    const struct ynode *model_at;   /* the `model` value */
    const struct ynode *key_at;     /* the `api_key` value */
    const struct ynode *base_at;    /* the `api_base` value */
    char *path;                     /* e.g. "model_list[3]" */
    char *missing;                  /* variable named by api_key that is not set: disabled */
    int explicit_provider;          /* provider came from its own field, not a model prefix */
};

struct gbuild {
    char *name;
    struct dbuild *deps;
    size_t n, cap;
};

struct loader {
    const char *name;               /* file name for messages */
    struct buf *errors, *warnings;
    int n_errors;
    struct buf path;                /* dotted path of the value being read */
    struct config *cfg;
    struct gbuild *groups;
    size_t n_groups, cap_groups;
    struct strmap group_idx;        /* name -> index in groups */
    const struct ynode *master_key_at;
};

enum yn_kind { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
    enum yn_kind kind;
    int line, col;                  /* 1-based */
    int plain;                      /* scalar written plain, without tag: null/bool/number apply */
    int bad;                        /* a null standing in for a reported error: reads fail quietly */
    char *text;                     /* scalar text (NUL-terminated, may contain NULs) */
    size_t len;
    struct ynode **kid;             /* SEQ: items; MAP: key0, value0, key1, value1, ... */
    size_t n, cap;
    struct ynode *all;              /* next node in the tree's ownership list */
};

static void msg_put(struct loader *ld, struct buf *to, int line, int col, const char *fmt,
                    va_list ap) __attribute__((format(printf, 5, 0)));

static void msg_put(struct loader *ld, struct buf *to, int line, int col, const char *fmt,
                    va_list ap)
{
    if (line > 0)
        buf_printf(to, "%s:%d:%d: ", ld->name, line, col);
    else
        buf_printf(to, "%s: ", ld->name);
    if (ld->path.len)
        buf_printf(to, "%s: ", ld->path.data);
    buf_vprintf(to, fmt, ap);
    buf_putc(to, '\n');
}

/* Records an error at node at (or without a position when at is NULL). */
static void lerr(struct loader *ld, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lerr(struct loader *ld, const struct ynode *at, const char *fmt, ...)
{
    int n = ld->n_errors++;
    if (!ld->errors || n > CONFIG_MAX_ERRORS)
        return;
    if (n == CONFIG_MAX_ERRORS) {
        buf_printf(ld->errors, "%s: more than %d errors; fix these first\n", ld->name,
                   CONFIG_MAX_ERRORS);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    msg_put(ld, ld->errors, at ? at->line : 0, at ? at->col : 0, fmt, ap);
    va_end(ap);
}

static void lwarn(struct loader *ld, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lwarn(struct loader *ld, const struct ynode *at, const char *fmt, ...)
{
    if (!ld->warnings)
        return;
    va_list ap;
    va_start(ap, fmt);
    msg_put(ld, ld->warnings, at ? at->line : 0, at ? at->col : 0, fmt, ap);
    va_end(ap);
}

/* Path handling: push returns the old length, which pop restores. */
static size_t path_key(struct loader *ld, const char *key)
{
    size_t old = ld->path.len;
    buf_printf(&ld->path, "%s%s", old ? "." : "", key);
    return old;
}

static size_t path_index(struct loader *ld, size_t i)
{
    size_t old = ld->path.len;
    buf_printf(&ld->path, "[%zu]", i);
    return old;
}

static void path_pop(struct loader *ld, size_t old)
{
    ld->path.len = old;
    if (ld->path.data)
        ld->path.data[old] = '\0';
}

/* Appends text as a quoted, escaped, shortened string for a message. */
static void quote_into(struct buf *b, const char *s, size_t len)
{
    buf_putc(b, '"');
    buf_json_escape(b, s, len > QUOTE_MAX ? QUOTE_MAX : len);
    if (len > QUOTE_MAX)
        buf_puts(b, "...");
    buf_putc(b, '"');
}

/* A quoted copy of a node's text for one message (a small ring of buffers, freed by the loader). */
struct qstr {
    struct buf b;
};

static const char *qnode(struct qstr *q, const struct ynode *n)
{
    buf_reset(&q->b);
    quote_into(&q->b, n->text ? n->text : "", n->len);
    return q->b.data;
}

/* A quoted copy of string s for one message. */
static const char *qtext(struct qstr *q, const char *s)
{
    buf_reset(&q->b);
    quote_into(&q->b, s, strlen(s));
    return q->b.data;
}

/* ------------------------------------------------------------------------------------------------
 * The YAML tree, built from libfyaml events.
 */
struct yframe {
    struct ynode *node;
    char *anchor;
};

struct yanchor {
    char *name;
    struct ynode *node;
};

struct ytree {
    struct loader *ld;
    const char *src;                /* the YAML text, for the source of a scalar */
    size_t src_len;
    struct ynode *all;              /* every node, for freeing */
    struct ynode *root;
    struct yframe *stack;
    size_t depth, cap_stack;
    struct yanchor *anchors;
    size_t n_anchors, cap_anchors;
    struct strmap anchor_idx;
    size_t merged;
    int docs;
    int failed;                     /* a structural error stopped the build */
};

static struct ynode *yn_new(struct ytree *t, enum yn_kind kind, const struct fy_mark *m)
{
    struct ynode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = m ? m->line + 1 : 1;
    n->col = m ? m->column + 1 : 1;
    n->all = t->all;
    t->all = n;
    return n;
}

static void yn_push_kid(struct ynode *parent, struct ynode *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 4;
        parent->kid = xrealloc(parent->kid, parent->cap * sizeof *parent->kid);
    }
    parent->kid[parent->n++] = kid;
}

static void ytree_free(struct ytree *t)
{
    struct ynode *n = t->all;
    while (n) {
        struct ynode *next = n->all;
        free(n->text);
        free(n->kid);
        free(n);
        n = next;
    }
    for (size_t i = 0; i < t->depth; i++)
        free(t->stack[i].anchor);
    free(t->stack);
    for (size_t i = 0; i < t->n_anchors; i++)
        free(t->anchors[i].name);
    free(t->anchors);
    strmap_free(&t->anchor_idx);
    memset(t, 0, sizeof *t);
}

static int yn_is(const struct ynode *n, const char *s)
{
    size_t len = strlen(s);
    return n->kind == YN_SCALAR && n->len == len && memcmp(n->text, s, len) == 0;
}

static int yn_is_null(const struct ynode *n)
{
    return n->kind == YN_SCALAR && n->plain &&
           (n->len == 0 || yn_is(n, "~") || yn_is(n, "null") || yn_is(n, "Null") ||
            yn_is(n, "NULL"));
}

static const char *yn_what(const struct ynode *n)
{
    return n->kind == YN_MAP ? "a mapping" : n->kind == YN_SEQ ? "a list" : "a scalar";
}

/* Reports an error at a libfyaml mark while building (the loader path is empty then). */
static void ytree_err(struct ytree *t, const struct fy_mark *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ytree_err(struct ytree *t, const struct fy_mark *m, const char *fmt, ...)
{
    struct ynode at = {.line = m ? m->line + 1 : 0, .col = m ? m->column + 1 : 0};
    struct buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    lerr(t->ld, m ? &at : NULL, "%s", msg.data ? msg.data : "");
    buf_free(&msg);
}

static void ytree_attach(struct ytree *t, struct ynode *n)
{
    if (t->depth)
        yn_push_kid(t->stack[t->depth - 1].node, n);
    else if (!t->root)
        t->root = n;
}

static void ytree_anchor(struct ytree *t, char *name, struct ynode *n)
{
    if (!name)
        return;
    if (t->n_anchors == t->cap_anchors) {
        t->cap_anchors = t->cap_anchors ? t->cap_anchors * 2 : 8;
        t->anchors = xrealloc(t->anchors, t->cap_anchors * sizeof *t->anchors);
    }
    t->anchors[t->n_anchors] = (struct yanchor){name, n};
    strmap_put(&t->anchor_idx, name, strlen(name), t->n_anchors);
    t->n_anchors++;
}

static char *token_dup(struct fy_token *tok)
{
    size_t len = 0;
    const char *s = tok ? fy_token_get_text(tok, &len) : NULL;
    return s ? xstrndup(s, len) : NULL;
}

/* Adds the pairs of merge source src (a mapping) to out unless their key is already present. */
static void ytree_merge_from(struct ytree *t, struct ynode *out, struct strmap *seen,
                             const struct ynode *src, const struct ynode *at)
{
    for (size_t i = 0; i + 1 < src->n; i += 2) {
        struct ynode *k = src->kid[i];
        if (strmap_get(seen, k->text, k->len))
            continue;
        if (++t->merged > YN_MAX_MERGED) {
            if (t->merged == YN_MAX_MERGED + 1)
                lerr(t->ld, at, "merge keys (<<) copy more than %d keys; simplify the anchors",
                     YN_MAX_MERGED);
            return;
        }
        strmap_put(seen, k->text, k->len, out->n);
        yn_push_kid(out, k);
        yn_push_kid(out, src->kid[i + 1]);
    }
}

/* Checks a completed mapping: keys are scalars and unique, and `<<` merge keys are resolved
 * (explicit keys win over merged ones, earlier merge sources over later ones). */
static void ytree_finish_map(struct ytree *t, struct ynode *map)
{
    struct ynode out = {0};
    struct strmap seen = {0};
    struct ynode **merges = NULL;
    size_t n_merges = 0;
    struct qstr q = {BUF_INIT};

    for (size_t i = 0; i + 1 < map->n; i += 2) {
        struct ynode *k = map->kid[i], *v = map->kid[i + 1];
        if (k->kind != YN_SCALAR) {
            lerr(t->ld, k, "a mapping key must be a plain value, not %s", yn_what(k));
            continue;
        }
        if (k->plain && yn_is(k, "<<")) {
            merges = xrealloc(merges, (n_merges + 1) * sizeof *merges);
            merges[n_merges++] = v;
            continue;
        }
        size_t *first = strmap_get(&seen, k->text, k->len);
        if (first) {
            const struct ynode *fk = out.kid[*first];
            lerr(t->ld, k, "duplicate key %s (first at line %d); remove one", qnode(&q, k),
                 fk->line);
            continue;
        }
        strmap_put(&seen, k->text, k->len, out.n);
        yn_push_kid(&out, k);
        yn_push_kid(&out, v);
    }
    for (size_t m = 0; m < n_merges; m++) {
        struct ynode *v = merges[m];
        if (v->kind == YN_MAP) {
            ytree_merge_from(t, &out, &seen, v, v);
        } else if (v->kind == YN_SEQ) {
            for (size_t j = 0; j < v->n; j++) {
                if (v->kid[j]->kind != YN_MAP)
                    lerr(t->ld, v->kid[j], "a merge key (<<) list must hold mappings, not %s",
                         yn_what(v->kid[j]));
                else
                    ytree_merge_from(t, &out, &seen, v->kid[j], v->kid[j]);
            }
        } else {
            lerr(t->ld, v, "a merge key (<<) takes a mapping or a list of mappings, not %s",
                 yn_what(v));
        }
    }
    free(map->kid);
    map->kid = out.kid;
    map->n = out.n;
    map->cap = out.cap;
    free(merges);
    strmap_free(&seen);
    buf_free(&q.b);
}

/* libfyaml 0.7.12 (the Debian 12 package) decodes some scalar shapes wrongly: consecutive ''
 * escapes come out with extra quotes (and leak its atom iterator: upstream issue #233), and a few
 * multi-line shapes lose or gain characters or end in NUL bytes. Nothing reports it, so a key or a
 * URL would silently differ from the file. Differential testing against PyYAML found every
 * mismatch inside the shapes below; such a scalar is refused (its text is never asked for) with a
 * message that says how to write it instead. Newer libfyaml may not need this. */

/* Returns 1 when s (n bytes) holds a run of at least k quote characters. */
static int quote_run(const char *s, size_t n, size_t k)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        run = s[i] == '\'' ? run + 1 : 0;
        if (run >= k)
            return 1;
    }
    return 0;
}

/* Returns 1 when the header line before a block scalar starting at pos has an indentation
 * indicator digit (|2, >-1). */
static int block_indicator(const char *src, size_t pos)
{
    if (pos == 0 || src[pos - 1] != '\n')
        return 0;
    size_t e = pos - 1, b = e;
    while (b > 0 && src[b - 1] != '\n')
        b--;
    for (size_t i = b; i < e; i++) {
        if (src[i] != '|' && src[i] != '>')
            continue;
        size_t j = i + 1;
        int digit = 0;
        for (; j < e && (src[j] == '-' || src[j] == '+' || (src[j] >= '1' && src[j] <= '9')); j++)
            digit |= src[j] != '-' && src[j] != '+';
        if (digit && (j == e || src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '#'))
            return 1;
    }
    return 0;
}

/* Returns 1 when folded-scalar source s (n bytes, whole lines) has a more-indented line (deeper
 * than the least indented one, or a tab after that indentation) after a blank line. */
static int fold_misread(const char *s, size_t n)
{
    size_t least = SIZE_MAX;
    for (int pass = 0; pass < 2; pass++) {
        int blank_seen = 0;
        for (size_t i = 0; i < n;) {
            size_t ind = 0, j = i;
            int blank = 1;
            while (j < n && s[j] == ' ')
                j++, ind++;
            size_t k = j;
            for (; k < n && s[k] != '\n'; k++)
                if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r')
                    blank = 0;
            if (pass == 0 && !blank && ind < least)
                least = ind;
            if (pass == 1 && blank)
                blank_seen = 1;
            else if (pass == 1 && blank_seen && (ind > least || s[j] == '\t'))
                return 1;
            i = k + 1;
        }
    }
    return 0;
}

/* Returns why libfyaml would misread scalar token tok, or NULL when its text can be trusted. */
static const char *scalar_misread(const struct ytree *t, struct fy_token *tok)
{
    const struct fy_mark *a = fy_token_start_mark(tok), *b = fy_token_end_mark(tok);
    if (!a || !b || a->input_pos > b->input_pos || b->input_pos > t->src_len)
        return NULL;
    const char *s = t->src + a->input_pos;
    size_t n = b->input_pos - a->input_pos;
    int lines = memchr(s, '\n', n) != NULL;
    switch (fy_token_scalar_style(tok)) {
    case FYSS_SINGLE_QUOTED:
        if (quote_run(s, n, 4) || (lines && quote_run(s, n, 2)))
            return "libfyaml 0.7 misreads '' next to another '' or in a value that spans lines; "
                   "write this value in double quotes on one line";
        return NULL;
    case FYSS_DOUBLE_QUOTED:
        if (lines && memchr(s, '\\', n))
            return "libfyaml 0.7 misreads \\ escapes in a double-quoted value that spans lines; "
                   "write it on one line";
        return NULL;
    case FYSS_LITERAL:
    case FYSS_FOLDED:
        if (block_indicator(t->src, a->input_pos))
            return "libfyaml 0.7 misreads a block scalar with an indentation indicator (|2, >1); "
                   "remove the digit";
        if (fy_token_scalar_style(tok) == FYSS_FOLDED && fold_misread(s, n))
            return "libfyaml 0.7 misreads a folded (>) value with a more-indented line after a "
                   "blank line; use a literal block (|) instead";
        return NULL;
    default:
        return NULL;
    }
}

/* Handles one event; returns -1 when building must stop. */
static int ytree_event(struct ytree *t, struct fy_event *ev)
{
    const struct fy_mark *m = fy_event_start_mark(ev);
    struct ynode *n;

    switch (ev->type) {
    case FYET_DOCUMENT_START:
        if (++t->docs > 1) {
            ytree_err(t, m, "only one YAML document is allowed; remove the second one");
            return -1;
        }
        return 0;
    case FYET_MAPPING_START:
    case FYET_SEQUENCE_START: {
        int map = ev->type == FYET_MAPPING_START;
        if (t->depth >= YN_MAX_DEPTH) {
            ytree_err(t, m, "nesting deeper than %d levels", YN_MAX_DEPTH);
            return -1;
        }
        n = yn_new(t, map ? YN_MAP : YN_SEQ, m);
        ytree_attach(t, n);
        if (t->depth == t->cap_stack) {
            t->cap_stack = t->cap_stack ? t->cap_stack * 2 : 8;
            t->stack = xrealloc(t->stack, t->cap_stack * sizeof *t->stack);
        }
        t->stack[t->depth].node = n;
        t->stack[t->depth].anchor =
            token_dup(map ? ev->mapping_start.anchor : ev->sequence_start.anchor);
        t->depth++;
        return 0;
    }
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END: {
        if (!t->depth)
            return 0;
        struct yframe f = t->stack[--t->depth];
        if (f.node->kind == YN_MAP)
            ytree_finish_map(t, f.node);
        ytree_anchor(t, f.anchor, f.node);
        return 0;
    }
    case FYET_SCALAR: {
        size_t len = 0;
        const char *misread = scalar_misread(t, ev->scalar.value);
        const char *s = misread ? NULL : fy_token_get_text(ev->scalar.value, &len);
        n = yn_new(t, YN_SCALAR, m);
        n->text = xstrndup(s ? s : "", s ? len : 0);
        n->len = s ? len : 0;
        n->plain = fy_token_scalar_style(ev->scalar.value) == FYSS_PLAIN && !ev->scalar.tag;
        if (!s) {
            ytree_err(t, m, "%s", misread ? misread : "libfyaml could not decode this value; "
                                                     "write it in double quotes on one line");
            n->plain = n->bad = 1; /* a null in its place, so checking can go on */
        }
        ytree_attach(t, n);
        ytree_anchor(t, token_dup(ev->scalar.anchor), n);
        return 0;
    }
    case FYET_ALIAS: {
        char *name = token_dup(ev->alias.anchor);
        size_t *idx = name ? strmap_get(&t->anchor_idx, name, strlen(name)) : NULL;
        if (idx) {
            ytree_attach(t, t->anchors[*idx].node);
        } else {
            ytree_err(t, m, "alias *%s names no anchor defined before it", name ? name : "");
            n = yn_new(t, YN_SCALAR, m);   /* a null in its place, so checking can go on */
            n->text = xstrdup("");
            n->plain = n->bad = 1;
            ytree_attach(t, n);
        }
        free(name);
        return 0;
    }
    default:
        return 0;
    }
}

/* Returns the length of the UTF-8 sequence at s (at most n bytes), or 0 when it is invalid
 * (truncated, overlong, a surrogate, or above U+10FFFF). Sets *cp to the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0], need, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        need = 1, min = 0x80, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, min = 0x800, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (n < need + 1)
        return 0;
    for (unsigned i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return need + 1;
}

/* Checks that text is printable UTF-8 (YAML's own rule) before libfyaml sees it: libfyaml 0.7.12
 * loops forever on some invalid UTF-8 (e.g. in a "%" directive line). Returns 0 or ERR_PARSE
 * (reported with the position of the first bad character). */
static int check_text(struct loader *ld, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    struct ynode at = {.line = 1, .col = 1};
    for (size_t i = 0; i < len;) {
        unsigned cp = 0;
        size_t n = utf8_seq(s + i, len - i, &cp);
        if (!n) {
            lerr(ld, &at, "invalid UTF-8 (byte 0x%02X); save the file as UTF-8", s[i]);
            return ERR_PARSE;
        }
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F ||
            (cp >= 0x80 && cp <= 0x9F && cp != 0x85) || cp == 0xFFFE || cp == 0xFFFF) {
            lerr(ld, &at, "control character U+%04X is not allowed in YAML", cp);
            return ERR_PARSE;
        }
        if (cp == '\n') {
            at.line++;
            at.col = 1;
        } else {
            at.col++;
        }
        i += n;
    }
    return 0;
}

/* Parses text into t->root (NULL for an empty document). Returns 0 (possibly after reporting
 * problems that leave a usable tree), ERR_PARSE for a YAML syntax error, or ERR_INVAL when building
 * had to stop (too deep, a second document); all are reported. */
static int ytree_build(struct ytree *t, const char *text, size_t len)
{
    int rc = 0;
    struct fy_diag_cfg dcfg;
    struct fy_diag *diag = NULL;
    struct fy_parser *fyp = NULL;

    if (!len)
        return 0;
    t->src = text;
    t->src_len = len;
    rc = check_text(t->ld, text, len);
    if (rc != 0)
        return rc;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    dcfg.level = FYET_ERROR;
    diag = fy_diag_create(&dcfg);
    if (!diag) {
        lerr(t->ld, NULL, "cannot create the YAML parser");
        rc = ERR_NOMEM;
        goto out;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET, .diag = diag};
    fyp = fy_parser_create(&pcfg);
    if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
        lerr(t->ld, NULL, "cannot create the YAML parser");
        rc = ERR_NOMEM;
        goto out;
    }
    struct fy_event *ev;
    while ((ev = fy_parser_parse(fyp)) != NULL) {
        int stop = ytree_event(t, ev);
        fy_parser_event_free(fyp, ev);
        if (stop) {
            t->failed = 1;
            break;
        }
    }
    if (!t->failed && fy_parser_get_stream_error(fyp)) {
        void *it = NULL;
        struct fy_diag_error *e;
        int any = 0;
        while ((e = fy_diag_errors_iterate(diag, &it)) != NULL) {
            if (e->type < FYET_ERROR)
                continue;
            struct ynode at = {.line = e->line, .col = e->column};
            lerr(t->ld, e->line > 0 ? &at : NULL, "YAML syntax: %s", e->msg ? e->msg : "error");
            any = 1;
        }
        if (!any)
            lerr(t->ld, NULL, "YAML syntax error");
        rc = ERR_PARSE;
        goto out;
    }
    /* duplicate keys, bad merges and unknown aliases are reported and the tree stays usable, so
     * checking goes on and lists the other problems too */
    if (t->failed)
        rc = ERR_INVAL;
out:
    if (fyp)
        fy_parser_destroy(fyp);
    if (diag)
        fy_diag_destroy(diag);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * Reading values: interpolation and typed scalars. Each reader expects the loader path to name the
 * value, reports its own errors, and returns 0 on success or -1 after an error.
 */
static int env_name_char(char c, int first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

static int env_name_ok(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!env_name_char(s[i], i == 0))
            return 0;
    return 1;
}

/* Interpolates scalar v into *out (always set on 0). With soft set, an unset variable without a
 * default returns 1 and its name in *missing (caller frees) instead of being an error. */
static int read_text(struct loader *ld, const struct ynode *v, int soft, char **out, char **missing)
{
    const char *s = v->text;
    size_t n = v->len;
    struct buf b = BUF_INIT;
    char *name = NULL;
    int rc = -1;

    *out = NULL;
    if (v->bad)
        return -1;
    if (v->kind != YN_SCALAR) {
        lerr(ld, v, "expected a value, got %s", yn_what(v));
        return -1;
    }
    if (memchr(s, '\0', n)) {
        lerr(ld, v, "contains a NUL character");
        return -1;
    }
    if (n > 11 && memcmp(s, "os.environ/", 11) == 0) {
        if (!env_name_ok(s + 11, n - 11)) {
            lerr(ld, v, "os.environ/ must be followed by a variable name (letters, digits, _)");
            return -1;
        }
        name = xstrndup(s + 11, n - 11);
        const char *val = getenv(name);
        if (!val)
            goto unset;
        *out = xstrdup(val);
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] != '$' || i + 1 == n || (s[i + 1] != '$' && s[i + 1] != '{')) {
            buf_putc(&b, s[i++]);
            continue;
        }
        if (s[i + 1] == '$') {
            buf_putc(&b, '$');
            i += 2;
            continue;
        }
        const char *open = s + i + 2, *close = memchr(open, '}', n - i - 2);
        if (!close) {
            lerr(ld, v, "unterminated \"${\" (write $$ for a literal $)");
            goto out;
        }
        size_t k = 0, inner = (size_t)(close - open);
        while (k < inner && env_name_char(open[k], k == 0))
            k++;
        const char *def = NULL;
        size_t def_len = 0;
        int empty_too = 0;   /* ${NAME:-x} also replaces an empty value; ${NAME-x} only unset */
        if (k < inner && open[k] == ':' && k + 1 < inner && open[k + 1] == '-') {
            def = open + k + 2;
            def_len = inner - k - 2;
            empty_too = 1;
        } else if (k < inner && open[k] == '-') {
            def = open + k + 1;
            def_len = inner - k - 1;
        } else if (k != inner) {
            k = 0;
        }
        if (!k) {
            struct buf q = BUF_INIT;
            quote_into(&q, open - 2, inner + 3);
            lerr(ld, v, "bad variable reference %s: write ${NAME} or ${NAME:-default} "
                 "(NAME: letters, digits, _), or $$ for a literal $", q.data);
            buf_free(&q);
            goto out;
        }
        free(name);
        name = xstrndup(open, k);
        const char *val = getenv(name);
        if (val && (*val || !empty_too))
            buf_puts(&b, val);
        else if (def)
            buf_append(&b, def, def_len);
        else if (!val)
            goto unset;
        i = (size_t)(close - s) + 1;
    }
    *out = buf_detach(&b);
    rc = 0;
    goto out;
unset:
    if (soft) {
        *missing = name;
        name = NULL;
        rc = 1;
    } else {
        lerr(ld, v, "environment variable %s is not set", name);
    }
out:
    free(name);
    buf_free(&b);
    return rc;
}

/* Reads an optional string: a null or empty value leaves *out NULL. */
static int read_string(struct loader *ld, const struct ynode *v, char **out)
{
    char *s = NULL;
    free(*out);
    *out = NULL;
    if (v->bad)
        return -1;
    if (yn_is_null(v))
        return 0;
    if (read_text(ld, v, 0, &s, NULL) != 0)
        return -1;
    if (!*s) {
        free(s);
        return 0;
    }
    *out = s;
    return 0;
}

/* Reads an unsigned integer in lo..hi. */
static int read_uint(struct loader *ld, const struct ynode *v, unsigned long long lo,
                     unsigned long long hi, unsigned long long *out)
{
    char *s = NULL;
    unsigned long long x = 0;
    int rc = -1;
    if (read_text(ld, v, 0, &s, NULL) != 0)
        return -1;
    if (str_to_u64(str_c(s), &x) != 0 || x < lo || x > hi) {
        struct buf q = BUF_INIT;
        quote_into(&q, s, strlen(s));
        if (lo == 1 && hi >= UINT_MAX)
            lerr(ld, v, "expected a positive integer, got %s", q.data);
        else if (lo == 0 && hi >= UINT_MAX)
            lerr(ld, v, "expected an integer >= 0, got %s", q.data);
        else
            lerr(ld, v, "expected an integer %llu..%llu, got %s", lo, hi, q.data);
        buf_free(&q);
        goto out;
    }
    *out = x;
    rc = 0;
out:
    free(s);
    return rc;
}

static int read_bool(struct loader *ld, const struct ynode *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    char *s = NULL;
    int rc = -1;
    if (read_text(ld, v, 0, &s, NULL) != 0)
        return -1;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (str_eq_ci(str_c(s), yes[i]) || str_eq_ci(str_c(s), no[i])) {
            *out = str_eq_ci(str_c(s), yes[i]);
            rc = 0;
            goto out;
        }
    }
    struct buf q = BUF_INIT;
    quote_into(&q, s, strlen(s));
    lerr(ld, v, "expected true or false, got %s", q.data);
    buf_free(&q);
out:
    free(s);
    return rc;
}

/* Parses "123", "1.5" or ".5" (no sign, no exponent) as thousandths, rounding up; returns 0, or -1
 * for other text or a value that overflows max. */
static int parse_milli(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long whole = 0, frac = 0;
    size_t i = 0, digits = 0;
    int rest = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        if (whole > (max / 1000 + 1) * 10)
            return -1;
        whole = whole * 10 + (unsigned)(s[i] - '0');
    }
    if (s[i] == '.') {
        size_t f = 0;
        for (i++; s[i] >= '0' && s[i] <= '9'; i++, f++, digits++) {
            if (f < 3)
                frac = frac * 10 + (unsigned)(s[i] - '0');
            else if (s[i] != '0')
                rest = 1;
        }
        for (; f < 3; f++)
            frac *= 10;
    }
    if (s[i] || !digits || whole > max / 1000)
        return -1;
    unsigned long long v = whole * 1000 + frac + (unsigned)rest;
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Reads a positive number of seconds (fractions allowed) as milliseconds, at least 1. */
static int read_seconds_ms(struct loader *ld, const struct ynode *v, unsigned *out)
{
    char *s = NULL;
    unsigned long long ms = 0;
    int rc = -1;
    if (read_text(ld, v, 0, &s, NULL) != 0)
        return -1;
    if (parse_milli(s, UINT_MAX, &ms) != 0 || ms == 0) {
        struct buf q = BUF_INIT;
        quote_into(&q, s, strlen(s));
        lerr(ld, v, "expected a positive number of seconds (e.g. 30 or 0.5), got %s", q.data);
        buf_free(&q);
        goto out;
    }
    *out = (unsigned)ms;
    rc = 0;
out:
    free(s);
    return rc;
}

/* Reads a positive number (weight). */
static int read_positive(struct loader *ld, const struct ynode *v, double *out)
{
    char *s = NULL;
    unsigned long long milli = 0;
    int rc = -1;
    if (read_text(ld, v, 0, &s, NULL) != 0)
        return -1;
    if (parse_milli(s, 1000000000000ull, &milli) != 0 || milli == 0) {
        struct buf q = BUF_INIT;
        quote_into(&q, s, strlen(s));
        lerr(ld, v, "expected a number > 0, got %s", q.data);
        buf_free(&q);
        goto out;
    }
    *out = (double)milli / 1000.0;
    rc = 0;
out:
    free(s);
    return rc;
}

/* Checks that v is a mapping (or null, which reads as empty); returns 1 when it has pairs. */
static int want_map(struct loader *ld, const struct ynode *v)
{
    if (yn_is_null(v))
        return 0;
    if (v->kind != YN_MAP) {
        lerr(ld, v, "expected a mapping (key: value lines), got %s", yn_what(v));
        return 0;
    }
    return v->n > 0;
}

static int want_seq(struct loader *ld, const struct ynode *v)
{
    if (yn_is_null(v))
        return 0;
    if (v->kind != YN_SEQ) {
        lerr(ld, v, "expected a list (\"- \" items), got %s", yn_what(v));
        return 0;
    }
    return v->n > 0;
}

/* Appends ", key" (escaped) to a list of key names for a message. */
static void list_add(struct buf *list, const struct ynode *k)
{
    if (list->len)
        buf_puts(list, ", ");
    buf_json_escape(list, k->text, k->len > QUOTE_MAX ? QUOTE_MAX : k->len);
}

/* Reports an unknown key k with the list of valid keys. */
static void unknown_key(struct loader *ld, const struct ynode *k, const char *what,
                        const char *const *valid, size_t n_valid)
{
    struct buf list = BUF_INIT;
    struct qstr q = {BUF_INIT};
    for (size_t i = 0; i < n_valid; i++)
        buf_printf(&list, "%s%s", i ? ", " : "", valid[i]);
    lerr(ld, k, "unknown %s %s (valid: %s)", what, qnode(&q, k), list.data ? list.data : "");
    buf_free(&list);
    buf_free(&q.b);
}

/* Returns the index of key k in names, or -1. */
static int key_index(const struct ynode *k, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (yn_is(k, names[i]))
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * model_info -> compact JSON.
 */
static int json_number(const char *s)
{
    size_t i = 0;
    if (s[i] == '-')
        i++;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (s[i] == '.') {
        if (!(s[++i] >= '0' && s[i] <= '9'))
            return 0;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (!(s[i] >= '0' && s[i] <= '9'))
            return 0;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return s[i] == '\0';
}

/* Returns 1 or 0 for YAML 1.2's true and false spellings, -1 for anything else. */
static int yaml_bool(const char *s)
{
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, t[i]) == 0)
            return 1;
        if (strcmp(s, f[i]) == 0)
            return 0;
    }
    return -1;
}

/* Appends node n as JSON; returns -1 after an error (reported once by the caller for size). */
static int json_emit(struct loader *ld, const struct ynode *n, struct buf *out, int *too_big)
{
    if (out->len > CONFIG_MAX_MODEL_INFO_BYTES) {
        *too_big = 1;
        return -1;
    }
    if (n->kind == YN_SCALAR) {
        char *s = NULL;
        if (yn_is_null(n)) {
            buf_puts(out, "null");
            return 0;
        }
        if (read_text(ld, n, 0, &s, NULL) != 0)
            return -1;
        int b = n->plain ? yaml_bool(s) : -1;
        if (b >= 0) {
            buf_puts(out, b ? "true" : "false");
        } else if (n->plain && json_number(s)) {
            buf_puts(out, s);
        } else {
            buf_putc(out, '"');
            buf_json_escape(out, s, strlen(s));
            buf_putc(out, '"');
        }
        free(s);
        return 0;
    }
    int map = n->kind == YN_MAP;
    buf_putc(out, map ? '{' : '[');
    for (size_t i = 0; i < n->n; i += map ? 2 : 1) {
        if (i)
            buf_putc(out, ',');
        if (map) {
            buf_putc(out, '"');
            buf_json_escape(out, n->kid[i]->text, n->kid[i]->len);
            buf_puts(out, "\":");
        }
        if (json_emit(ld, n->kid[i + (map ? 1 : 0)], out, too_big) != 0)
            return -1;
    }
    buf_putc(out, map ? '}' : ']');
    return 0;
}

/* Returns model_info v as JSON text (owned), or NULL after an error or for a null value. */
static char *model_info_json(struct loader *ld, const struct ynode *v)
{
    struct buf out = BUF_INIT;
    int too_big = 0;
    if (yn_is_null(v))
        return NULL;
    if (v->kind != YN_MAP) {
        lerr(ld, v, "expected a mapping, got %s", yn_what(v));
        return NULL;
    }
    if (json_emit(ld, v, &out, &too_big) != 0) {
        if (too_big)
            lerr(ld, v, "larger than %d bytes as JSON", CONFIG_MAX_MODEL_INFO_BYTES);
        buf_free(&out);
        return NULL;
    }
    return buf_detach(&out);
}

/* ------------------------------------------------------------------------------------------------
 * Deployments.
 */

/* Providers spoken through the OpenAI-compatible adapter, with the default address of the known
 * clouds. `ollama` addresses get "/v1" appended when missing, because LiteLLM users write Ollama's
 * native root (http://host:11434) there. */
struct prov_alias {
    const char *prefix;
    const char *api_base;
    int wants_v1;
};

static const struct prov_alias prov_aliases[] = {
    {"openai", "https://api.openai.com/v1", 0},
    {"hosted_vllm", NULL, 0},
    {"openai_compatible", NULL, 0},
    {"groq", "https://api.groq.com/openai/v1", 0},
    {"together_ai", "https://api.together.xyz/v1", 0},
    {"openrouter", "https://openrouter.ai/api/v1", 0},
    {"deepseek", "https://api.deepseek.com/v1", 0},
    {"mistral", "https://api.mistral.ai/v1", 0},
    {"fireworks_ai", "https://api.fireworks.ai/inference/v1", 0},
    {"ollama", "http://127.0.0.1:11434/v1", 1},
    {"ollama_chat", "http://127.0.0.1:11434/v1", 1},
};

static const struct prov_alias *prov_alias_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof prov_aliases / sizeof *prov_aliases; i++)
        if (strlen(prov_aliases[i].prefix) == len && memcmp(prov_aliases[i].prefix, name, len) == 0)
            return &prov_aliases[i];
    return NULL;
}

enum fkind {
    F_ID,
    F_PROVIDER,
    F_MODEL,
    F_API_BASE,
    F_API_KEY,
    F_API_VERSION,
    F_WEIGHT,
    F_SECONDS,      /* unsigned ms at off, written in seconds */
    F_MS,           /* unsigned ms at off */
    F_U32,          /* unsigned at off */
    F_BOOL,         /* int at off */
    F_NOT_BOOL,     /* int at off, inverted (LiteLLM's ssl_verify) */
    F_HEADERS,
    F_MODEL_INFO,
    F_PARAM_DEFAULTS,   /* mapping -> JSON object text */
    F_PARAM_OVERRIDES,
    F_RENAMES,          /* mapping of name -> name */
    F_DROP,             /* list of names, or true (what the provider does not accept) */
    F_DROP_BOOL,        /* LiteLLM's drop_params: true/false */
};

/* Fields with the same slot set the same thing; giving two of them is an error. */
enum fslot { S_ID, S_PROVIDER, S_MODEL, S_BASE, S_KEY, S_VERSION, S_WEIGHT, S_TIMEOUT, S_STREAM,
             S_CONNECT, S_HEADERS, S_TLS, S_RPM, S_TPM, S_INFO, S_DEFAULTS, S_OVERRIDES,
             S_RENAMES, S_DROP, S_DROP_MORE, S_COUNT };

struct dfield {
    const char *key;
    enum fkind kind;
    size_t off;
    enum fslot slot;
};

#define DOFF(f) offsetof(struct deployment, f)

static const struct dfield native_fields[] = {
    {"id", F_ID, 0, S_ID},
    {"provider", F_PROVIDER, 0, S_PROVIDER},
    {"model", F_MODEL, 0, S_MODEL},
    {"api_base", F_API_BASE, 0, S_BASE},
    {"api_key", F_API_KEY, 0, S_KEY},
    {"api_version", F_API_VERSION, 0, S_VERSION},
    {"weight", F_WEIGHT, 0, S_WEIGHT},
    {"timeout", F_SECONDS, DOFF(timeout_ms), S_TIMEOUT},
    {"timeout_ms", F_MS, DOFF(timeout_ms), S_TIMEOUT},
    {"stream_timeout", F_SECONDS, DOFF(stream_idle_timeout_ms), S_STREAM},
    {"stream_timeout_ms", F_MS, DOFF(stream_idle_timeout_ms), S_STREAM},
    {"connect_timeout", F_SECONDS, DOFF(connect_timeout_ms), S_CONNECT},
    {"connect_timeout_ms", F_MS, DOFF(connect_timeout_ms), S_CONNECT},
    {"headers", F_HEADERS, 0, S_HEADERS},
    {"tls_insecure", F_BOOL, DOFF(tls_insecure), S_TLS},
    {"rpm", F_U32, DOFF(rpm), S_RPM},
    {"tpm", F_U32, DOFF(tpm), S_TPM},
    {"model_info", F_MODEL_INFO, 0, S_INFO},
    {"defaults", F_PARAM_DEFAULTS, 0, S_DEFAULTS},
    {"overrides", F_PARAM_OVERRIDES, 0, S_OVERRIDES},
    {"rename_params", F_RENAMES, 0, S_RENAMES},
    {"drop_params", F_DROP, 0, S_DROP},
};

/* litellm_params keys we use; any other key is accepted and listed in one warning. */
static const struct dfield litellm_fields[] = {
    {"model", F_MODEL, 0, S_MODEL},
    {"custom_llm_provider", F_PROVIDER, 0, S_PROVIDER},
    {"api_base", F_API_BASE, 0, S_BASE},
    {"base_url", F_API_BASE, 0, S_BASE},
    {"api_key", F_API_KEY, 0, S_KEY},
    {"api_version", F_API_VERSION, 0, S_VERSION},
    {"weight", F_WEIGHT, 0, S_WEIGHT},
    {"timeout", F_SECONDS, DOFF(timeout_ms), S_TIMEOUT},
    {"stream_timeout", F_SECONDS, DOFF(stream_idle_timeout_ms), S_STREAM},
    {"headers", F_HEADERS, 0, S_HEADERS},
    {"extra_headers", F_HEADERS, 0, S_HEADERS},
    {"ssl_verify", F_NOT_BOOL, DOFF(tls_insecure), S_TLS},
    {"rpm", F_U32, DOFF(rpm), S_RPM},
    {"tpm", F_U32, DOFF(tpm), S_TPM},
    {"drop_params", F_DROP_BOOL, 0, S_DROP},
    {"additional_drop_params", F_DROP, 0, S_DROP_MORE},
};

static void deployment_free_fields(struct deployment *d)
{
    free(d->id);
    free(d->provider);
    free(d->model);
    free(d->api_base);
    free(d->api_version);
    if (d->api_key) {
        memset(d->api_key, 0, strlen(d->api_key));
        free(d->api_key);
    }
    if (d->headers)
        for (char **h = d->headers; *h; h++)
            free(*h);
    free(d->headers);
    free(d->model_info);
    free(d->param_defaults);
    free(d->param_overrides);
    for (char **p = d->param_renames; p && *p; p++)
        free(*p);
    free(d->param_renames);
    for (char **p = d->drop_params; p && *p; p++)
        free(*p);
    free(d->drop_params);
    memset(d, 0, sizeof *d);
}

static void dbuild_free(struct dbuild *db)
{
    deployment_free_fields(&db->d);
    free(db->path);
    free(db->missing);
}

static int header_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

/* Returns 1 when s holds a control character. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 1;
    return 0;
}

/* Request members the gateway itself decides; shaping them would break routing or streaming. */
static const char *const unshapeable[] = {"model", "stream", "stream_options", "messages", "prompt",
                                          "input", NULL};

/* Checks that no key of mapping v (or, with keys_only 0, no value) names an unshapeable member;
 * returns 1 when all are fine. */
static int shaping_name_ok(struct loader *ld, const struct ynode *at, const char *name)
{
    for (const char *const *u = unshapeable; *u; u++)
        if (strcmp(*u, name) == 0) {
            lerr(ld, at, "\"%s\" cannot be shaped: the gateway sets it from the request", name);
            return 0;
        }
    if (!*name || has_control(name)) {
        lerr(ld, at, "expected a request parameter name");
        return 0;
    }
    return 1;
}

static int shaping_keys_ok(struct loader *ld, const struct ynode *v, int keys)
{
    int ok = 1;
    for (size_t i = 0; i < v->n; i += keys ? 2 : 1)
        ok &= shaping_name_ok(ld, v->kid[i], v->kid[i]->text ? v->kid[i]->text : "");
    return ok;
}

/* Reads `rename_params: {from: to}` into a NULL-terminated "from", "to" array. */
static void read_renames(struct loader *ld, const struct ynode *v, struct deployment *d)
{
    if (!want_map(ld, v))
        return;
    d->param_renames = xcalloc(v->n + 1, sizeof *d->param_renames);
    size_t n = 0;
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        char *to = NULL;
        const char *from = v->kid[i]->text ? v->kid[i]->text : "";
        if (!shaping_name_ok(ld, v->kid[i], from))
            continue;
        if (read_string(ld, v->kid[i + 1], &to) == 0 && to && shaping_name_ok(ld, v->kid[i + 1], to)) {
            d->param_renames[n++] = xstrdup(from);
            d->param_renames[n++] = to;
            to = NULL;
        }
        free(to);
    }
}

/* Reads `drop_params: [name, ...]` into a NULL-terminated array (appending to what is there). */
static void read_drop_list(struct loader *ld, const struct ynode *v, struct deployment *d)
{
    if (!want_seq(ld, v))
        return;
    size_t have = 0;
    while (d->drop_params && d->drop_params[have])
        have++;
    d->drop_params = xrealloc(d->drop_params, (have + v->n + 1) * sizeof *d->drop_params);
    for (size_t i = 0; i < v->n; i++) {
        char *name = NULL;
        if (read_string(ld, v->kid[i], &name) == 0 && name && shaping_name_ok(ld, v->kid[i], name))
            d->drop_params[have++] = name, name = NULL;
        free(name);
    }
    d->drop_params[have] = NULL;
}

/* Reads `headers: {Name: value}` into a NULL-terminated "Name: value" array. */
static void read_headers(struct loader *ld, const struct ynode *v, struct deployment *d)
{
    struct qstr q = {BUF_INIT};
    if (!want_map(ld, v))
        return;
    d->headers = xcalloc(v->n / 2 + 1, sizeof *d->headers);
    size_t n = 0;
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct ynode *k = v->kid[i];
        char *val = NULL;
        if (!header_name_ok(k->text)) {
            lerr(ld, k, "%s is not a valid HTTP header name", qnode(&q, k));
            continue;
        }
        size_t old = path_key(ld, k->text);
        if (read_text(ld, v->kid[i + 1], 0, &val, NULL) == 0) {
            if (strpbrk(val, "\r\n")) {
                lerr(ld, v->kid[i + 1], "a header value must not contain a line break");
            } else {
                struct buf h = BUF_INIT;
                buf_printf(&h, "%s: %s", k->text, val);
                d->headers[n++] = buf_detach(&h);
            }
        }
        free(val);
        path_pop(ld, old);
    }
    buf_free(&q.b);
}

/* Checks the id just read from v into db: not empty, and no control character (it is sent in the
 * x-tollgate-deployment response header). */
static void read_id_check(struct loader *ld, struct dbuild *db, const struct ynode *v)
{
    if (!db->d.id)
        lerr(ld, v, "an id must not be empty");
    else if (has_control(db->d.id))
        lerr(ld, v, "an id must not contain control characters");
    db->id_at = v;
}

/* Reads one field of a deployment. */
static void read_field(struct loader *ld, struct dbuild *db, const struct dfield *f,
                       const struct ynode *v)
{
    struct deployment *d = &db->d;
    unsigned long long u = 0;
    char *s = NULL;

    switch (f->kind) {
    case F_ID:
        if (read_string(ld, v, &d->id) == 0)
            read_id_check(ld, db, v);
        break;
    case F_PROVIDER:
        if (read_string(ld, v, &d->provider) == 0)
            db->explicit_provider = d->provider != NULL;
        break;
    case F_MODEL:
        read_string(ld, v, &d->model);
        db->model_at = v;
        break;
    case F_API_BASE:
        read_string(ld, v, &d->api_base);
        db->base_at = v;
        break;
    case F_API_KEY:
        db->key_at = v;
        if (yn_is_null(v))
            break;
        free(db->missing);
        db->missing = NULL;
        if (read_text(ld, v, 1, &s, &db->missing) == 0) {
            if (*s)
                d->api_key = s, s = NULL;
        }
        if (s)
            memset(s, 0, strlen(s));
        break;
    case F_API_VERSION:
        read_string(ld, v, &d->api_version);
        if (d->api_version && (strpbrk(d->api_version, "&#?/ ") || has_control(d->api_version))) {
            lerr(ld, v, "expected a version such as %s, without '&', '#', '?', '/' or spaces",
                 DEPLOYMENT_AZURE_API_VERSION);
            free(d->api_version);
            d->api_version = NULL;
        }
        break;
    case F_WEIGHT:
        read_positive(ld, v, &d->weight);
        break;
    case F_SECONDS:
        read_seconds_ms(ld, v, (unsigned *)(void *)((char *)d + f->off));
        break;
    case F_MS:
        if (read_uint(ld, v, 1, UINT_MAX, &u) == 0)
            *(unsigned *)(void *)((char *)d + f->off) = (unsigned)u;
        break;
    case F_U32:
        if (read_uint(ld, v, 0, UINT_MAX, &u) == 0)
            *(unsigned *)(void *)((char *)d + f->off) = (unsigned)u;
        break;
    case F_BOOL:
    case F_NOT_BOOL: {
        int b = 0;
        if (read_bool(ld, v, &b) == 0)
            *(int *)(void *)((char *)d + f->off) = f->kind == F_BOOL ? b : !b;
        break;
    }
    case F_HEADERS:
        read_headers(ld, v, d);
        break;
    case F_MODEL_INFO:
        free(d->model_info);
        d->model_info = model_info_json(ld, v);
        break;
    case F_PARAM_DEFAULTS:
    case F_PARAM_OVERRIDES: {
        char **dst = f->kind == F_PARAM_DEFAULTS ? &d->param_defaults : &d->param_overrides;
        if (v->kind != YN_MAP) {
            if (!yn_is_null(v))
                lerr(ld, v, "expected a mapping of request parameters (e.g. temperature: 0.2)");
            break;
        }
        if (shaping_keys_ok(ld, v, 1)) {
            free(*dst);
            *dst = model_info_json(ld, v);
        }
        break;
    }
    case F_RENAMES:
        read_renames(ld, v, d);
        break;
    case F_DROP:
        if (v->kind == YN_SEQ || yn_is_null(v))
            read_drop_list(ld, v, d);
        else
            read_bool(ld, v, &d->drop_unsupported); /* drop_params: true */
        break;
    case F_DROP_BOOL:
        read_bool(ld, v, &d->drop_unsupported);
        break;
    }
    free(s);
}

/* Reads the pairs of deployment mapping v with field table fields. Unknown keys are errors when
 * ignored is NULL, else their names are appended to ignored. */
static void read_fields(struct loader *ld, struct dbuild *db, const struct ynode *v,
                        const struct dfield *fields, size_t n_fields, struct buf *ignored)
{
    const struct ynode *seen[S_COUNT] = {0};
    struct qstr q = {BUF_INIT};

    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct ynode *k = v->kid[i];
        const struct dfield *f = NULL;
        for (size_t j = 0; j < n_fields && !f; j++)
            if (yn_is(k, fields[j].key))
                f = &fields[j];
        if (!f) {
            if (ignored) {
                list_add(ignored, k);
            } else {
                const char *names[32];
                for (size_t j = 0; j < n_fields && j < 32; j++)
                    names[j] = fields[j].key;
                unknown_key(ld, k, "key", names, n_fields);
            }
            continue;
        }
        if (seen[f->slot]) {
            struct qstr q2 = {BUF_INIT};
            lerr(ld, k, "%s and %s both set the same thing; keep one", qnode(&q, seen[f->slot]),
                 qnode(&q2, k));
            buf_free(&q2.b);
            continue;
        }
        seen[f->slot] = k;
        size_t old = path_key(ld, f->key);
        read_field(ld, db, f, v->kid[i + 1]);
        path_pop(ld, old);
    }
    buf_free(&q.b);
}

/* Turns provider/model as written into the stored provider, model and api_base, checking what is
 * missing. Called with the loader path naming the deployment. */
static void resolve_deployment(struct loader *ld, struct dbuild *db)
{
    struct deployment *d = &db->d;
    const struct prov_alias *alias = NULL;

    if (!d->model) {
        if (db->model_at && db->model_at->bad)
            return;
        if (!db->model_at)
            lerr(ld, db->at, "missing \"model\" (the model name sent upstream, e.g. "
                 "openai/gpt-4o)");
        else
            lerr(ld, db->model_at, "model: must not be empty");
        return;
    }
    if (d->provider) {
        alias = prov_alias_find(d->provider, strlen(d->provider));
    } else {
        char *slash = strchr(d->model, '/');
        if (slash) {
            d->provider = xstrndup(d->model, (size_t)(slash - d->model));
            alias = prov_alias_find(d->provider, strlen(d->provider));
            if (!slash[1] || slash == d->model) {
                struct buf q = BUF_INIT;
                quote_into(&q, db->model_at->text, db->model_at->len);
                lerr(ld, db->model_at, "model: expected \"provider/name\", got %s", q.data);
                buf_free(&q);
                return;
            }
            char *rest = xstrdup(slash + 1);
            free(d->model);
            d->model = rest;
        } else {
            d->provider = xstrdup("openai");
            alias = prov_alias_find("openai", 6);
        }
    }
    if (alias && strcmp(d->provider, "openai") != 0) {
        free(d->provider);
        d->provider = xstrdup("openai");
    }
    /* azure has no default address (each resource has its own) but a default api-version */
    int azure = strcmp(d->provider, "azure") == 0;
    if (azure && !d->api_base)
        lerr(ld, db->at, "missing \"api_base\": provider azure needs the resource address "
             "(e.g. api_base: https://RESOURCE.openai.azure.com)");
    if (azure && !d->api_version)
        d->api_version = xstrdup(DEPLOYMENT_AZURE_API_VERSION);
    if (d->api_base) {
        size_t n = strlen(d->api_base);
        while (n && d->api_base[n - 1] == '/')
            d->api_base[--n] = '\0';
        struct str b = str_c(d->api_base);
        if (!(b.len > 7 && str_eq_ci((struct str){b.p, 7}, "http://")) &&
            !(b.len > 8 && str_eq_ci((struct str){b.p, 8}, "https://"))) {
            struct buf q = BUF_INIT;
            quote_into(&q, d->api_base, n);
            lerr(ld, db->base_at, "api_base: expected an http:// or https:// URL, got %s", q.data);
            buf_free(&q);
            return;
        }
        if (alias && alias->wants_v1 && (n < 3 || strcmp(d->api_base + n - 3, "/v1") != 0)) {
            struct buf nb = BUF_INIT;
            buf_printf(&nb, "%s/v1", d->api_base);
            free(d->api_base);
            d->api_base = buf_detach(&nb);
        }
    } else if (alias && alias->api_base) {
        d->api_base = xstrdup(alias->api_base);
    } else if (alias) {
        lerr(ld, db->at, "missing \"api_base\": provider %s has no default address "
             "(e.g. api_base: http://127.0.0.1:8000/v1)", alias->prefix);
    }
}

/* Returns the group named name, creating it at the end. */
static struct gbuild *group_get(struct loader *ld, const char *name)
{
    size_t *idx = strmap_get(&ld->group_idx, name, strlen(name));
    if (idx)
        return &ld->groups[*idx];
    if (ld->n_groups == ld->cap_groups) {
        ld->cap_groups = ld->cap_groups ? ld->cap_groups * 2 : 8;
        ld->groups = xrealloc(ld->groups, ld->cap_groups * sizeof *ld->groups);
        /* the map borrows the names, which don't move when the array does */
    }
    struct gbuild *g = &ld->groups[ld->n_groups];
    memset(g, 0, sizeof *g);
    g->name = xstrdup(name);
    strmap_put(&ld->group_idx, g->name, strlen(g->name), ld->n_groups);
    ld->n_groups++;
    return g;
}

static struct dbuild *group_add(struct gbuild *g, const struct ynode *at, const char *path)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4;
        g->deps = xrealloc(g->deps, g->cap * sizeof *g->deps);
    }
    struct dbuild *db = &g->deps[g->n++];
    memset(db, 0, sizeof *db);
    db->at = at;
    db->path = xstrdup(path);
    db->d.weight = 1;
    return db;
}

/* Reads a group name value; returns it (owned) or NULL after an error. A control character is
 * refused: the name, or the id made from it, goes into messages, logs and response headers. */
static char *read_group_name(struct loader *ld, const struct ynode *v)
{
    char *name = NULL;
    if (read_string(ld, v, &name) != 0)
        return NULL;
    if (!name) {
        lerr(ld, v, "must not be empty");
    } else if (has_control(name)) {
        lerr(ld, v, "must not contain control characters");
        free(name);
        name = NULL;
    }
    return name;
}

/* Headers the gateway never passes on from a client: its own credentials, and the framing and
 * connection headers it sets itself for the upstream request. */
static const char *const unforwardable[] = {
    "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "host",
    "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "te",
    "trailer", "upgrade", "expect", "accept", "accept-encoding", "x-request-id", NULL,
};

/* Reads `forward_headers: [name, prefix-*]` into ld->cfg->forward_headers (lowercased). */
static void read_forward_headers(struct loader *ld, const struct ynode *v)
{
    struct config *c = ld->cfg;
    struct qstr q = {BUF_INIT};
    if (!want_seq(ld, v))
        return;
    c->forward_headers = xcalloc(v->n + 1, sizeof *c->forward_headers);
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        char *name = NULL;
        size_t old = path_index(ld, i);
        if (read_string(ld, v->kid[i], &name) == 0 && name) {
            size_t len = strlen(name);
            int prefix = len > 0 && name[len - 1] == '*';
            for (char *p = name; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p + 32);
            if (prefix)
                name[len - 1] = '\0';
            const char *bad = NULL;
            for (const char *const *u = unforwardable; *u && !bad; u++)
                if (prefix ? strncmp(*u, name, strlen(name)) == 0 : strcmp(*u, name) == 0)
                    bad = *u;
            if (!name[0]) {
                lerr(ld, v->kid[i], "forwarding every header would pass the client's credentials "
                                    "upstream; list names or prefixes such as x-tenant-*");
            } else if (!header_name_ok(name)) {
                if (prefix)
                    name[len - 1] = '*';
                lerr(ld, v->kid[i], "%s is not a valid HTTP header name", qtext(&q, name));
            } else if (bad && prefix) {
                lerr(ld, v->kid[i], "\"%s*\" cannot be forwarded: it covers %s, which carries "
                                    "the client's credentials or is set by the gateway itself",
                     name, bad);
            } else if (bad) {
                lerr(ld, v->kid[i], "\"%s\" cannot be forwarded: it carries the client's "
                                    "credentials or is set by the gateway itself", name);
            } else {
                if (prefix)
                    name[len - 1] = '*';
                c->forward_headers[n++] = name;
                name = NULL;
            }
        }
        free(name);
        path_pop(ld, old);
    }
    buf_free(&q.b);
}

/* ------------------------------------------------------------------------------------------------
 * Sections.
 */
static void sec_server(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"host", "port", "workers", "master_key", "access_log",
                                       "log_level", "forward_headers"};
    struct config *c = ld->cfg;
    struct qstr q = {BUF_INIT};
    unsigned long long u = 0;
    char *s = NULL;

    if (!want_map(ld, v))
        return;
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct ynode *k = v->kid[i], *val = v->kid[i + 1];
        int idx = key_index(k, keys, sizeof keys / sizeof *keys);
        if (idx < 0) {
            unknown_key(ld, k, "key", keys, sizeof keys / sizeof *keys);
            continue;
        }
        size_t old = path_key(ld, keys[idx]);
        switch (idx) {
        case 0:
            if (read_string(ld, val, &s) == 0 && s)
                free(c->host), c->host = s, s = NULL;
            break;
        case 1:
            if (!yn_is_null(val) && read_uint(ld, val, 1, 65535, &u) == 0)
                c->port = (int)u;
            break;
        case 2:
            if (!yn_is_null(val) && read_uint(ld, val, 0, CONFIG_MAX_WORKERS, &u) == 0)
                c->workers = (int)u;
            break;
        case 3:
            if (ld->master_key_at) {
                lerr(ld, k, "also set at line %d; keep one", ld->master_key_at->line);
                break;
            }
            ld->master_key_at = k;
            read_string(ld, val, &c->master_key);
            break;
        case 4:
            if (read_string(ld, val, &s) == 0 && s) {
                if (val->plain && (yaml_bool(s) == 0 || strcmp(s, "no") == 0)) {
                    free(s);
                    s = xstrdup("off");
                }
                free(c->access_log);
                c->access_log = s;
                s = NULL;
            }
            break;
        case 5:
            if (read_string(ld, val, &s) == 0 && s) {
                for (char *p = s; *p; p++)
                    if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p + 32);
                if (strcmp(s, "warning") == 0)
                    s[4] = '\0';
                if (strcmp(s, "debug") && strcmp(s, "info") && strcmp(s, "warn") &&
                    strcmp(s, "error"))
                    lerr(ld, val, "expected debug, info, warn or error, got %s", qtext(&q, s));
                else
                    free(c->log_level), c->log_level = s, s = NULL;
            }
            break;
        case 6:
            read_forward_headers(ld, val);
            break;
        }
        free(s);
        s = NULL;
        path_pop(ld, old);
    }
    buf_free(&q.b);
}

static void sec_limits(struct loader *ld, const struct ynode *v)
{
    static const char *const names[] = {
#define LIMITS_NAME_(type, name, def, max, unit, what) #name,
        LIMITS_LIST(LIMITS_NAME_)
#undef LIMITS_NAME_
    };
    unsigned long long u = 0;

    if (!want_map(ld, v))
        return;
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct ynode *k = v->kid[i], *val = v->kid[i + 1];
        int idx = key_index(k, names, sizeof names / sizeof *names);
        if (idx < 0) {
            unknown_key(ld, k, "limit", names, sizeof names / sizeof *names);
            continue;
        }
        size_t old = path_key(ld, names[idx]);
        if (read_uint(ld, val, 1, limits_max(names[idx]), &u) == 0)
            limits_set(&ld->cfg->limits, names[idx], u);
        path_pop(ld, old);
    }
}

static void sec_general(struct loader *ld, const struct ynode *v)
{
    struct buf ignored = BUF_INIT;
    if (!want_map(ld, v))
        return;
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const struct ynode *k = v->kid[i];
        if (!yn_is(k, "master_key")) {
            list_add(&ignored, k);
            continue;
        }
        size_t old = path_key(ld, "master_key");
        if (ld->master_key_at) {
            lerr(ld, k, "also set at line %d; keep one", ld->master_key_at->line);
        } else {
            ld->master_key_at = k;
            read_string(ld, v->kid[i + 1], &ld->cfg->master_key);
        }
        path_pop(ld, old);
    }
    if (ignored.len)
        lwarn(ld, v, "ignored (not used by tollgate): %s", ignored.data);
    buf_free(&ignored);
}

static void sec_ignored(struct loader *ld, const struct ynode *v)
{
    struct buf keys = BUF_INIT;
    if (v->kind == YN_MAP)
        for (size_t i = 0; i + 1 < v->n; i += 2)
            list_add(&keys, v->kid[i]);
    if (keys.len)
        lwarn(ld, v, "LiteLLM section ignored (not used by tollgate): %s", keys.data);
    else if (!yn_is_null(v))
        lwarn(ld, v, "LiteLLM section ignored (not used by tollgate)");
    buf_free(&keys);
}

/* Native: the deployments list of one model; name is NULL when the model's name was bad (the
 * deployments are still checked). */
static void sec_deployments(struct loader *ld, const struct ynode *deps, const char *name)
{
    for (size_t j = 0; j < deps->n; j++) {
        const struct ynode *dn = deps->kid[j];
        size_t old = path_index(ld, j);
        if (dn->kind != YN_MAP) {
            lerr(ld, dn, "expected a mapping (a deployment), got %s", yn_what(dn));
        } else {
            struct dbuild scratch = {.at = dn, .d.weight = 1};
            struct dbuild *db = name ? group_add(group_get(ld, name), dn, ld->path.data) : &scratch;
            read_fields(ld, db, dn, native_fields, sizeof native_fields / sizeof *native_fields,
                        NULL);
            resolve_deployment(ld, db);
            if (db == &scratch)
                dbuild_free(&scratch);
        }
        path_pop(ld, old);
    }
}

/* Native: models: [{name, deployments: [...]}] */
static void sec_models(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"name", "deployments"};

    if (!want_seq(ld, v))
        return;
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *m = v->kid[i], *deps = NULL, *name_at = NULL;
        size_t old = path_index(ld, i);
        if (!want_map(ld, m)) {
            if (m->kind == YN_MAP || yn_is_null(m))
                lerr(ld, m, "a model needs \"name\" and \"deployments\"");
            path_pop(ld, old);
            continue;
        }
        for (size_t j = 0; j + 1 < m->n; j += 2) {
            const struct ynode *k = m->kid[j];
            int idx = key_index(k, keys, 2);
            if (idx < 0)
                unknown_key(ld, k, "key", keys, 2);
            else if (idx == 0)
                name_at = m->kid[j + 1];
            else
                deps = m->kid[j + 1];
        }
        char *name = NULL;
        if (!name_at) {
            lerr(ld, m, "missing \"name\" (the model name clients send)");
        } else {
            size_t o2 = path_key(ld, "name");
            name = read_group_name(ld, name_at);
            path_pop(ld, o2);
        }
        if (!deps) {
            lerr(ld, m, "missing \"deployments\" (a list of upstreams serving this model)");
        } else {
            size_t o2 = path_key(ld, "deployments");
            if (yn_is_null(deps) || (deps->kind == YN_SEQ && deps->n == 0))
                lerr(ld, deps, "at least one deployment is required");
            else if (want_seq(ld, deps))
                sec_deployments(ld, deps, name);
            path_pop(ld, o2);
        }
        free(name);
        path_pop(ld, old);
    }
}

/* LiteLLM: model_list: [{model_name, litellm_params: {...}, model_info: {...}}] */
static void sec_model_list(struct loader *ld, const struct ynode *v)
{
    static const char *const keys[] = {"model_name", "litellm_params", "model_info"};

    if (!want_seq(ld, v))
        return;
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *e = v->kid[i], *at[3] = {0};
        size_t old = path_index(ld, i);
        if (!want_map(ld, e)) {
            if (e->kind == YN_MAP || yn_is_null(e))
                lerr(ld, e, "an entry needs \"model_name\" and \"litellm_params\"");
            path_pop(ld, old);
            continue;
        }
        for (size_t j = 0; j + 1 < e->n; j += 2) {
            int idx = key_index(e->kid[j], keys, 3);
            if (idx < 0)
                unknown_key(ld, e->kid[j], "key", keys, 3);
            else
                at[idx] = e->kid[j + 1];
        }
        char *name = NULL;
        if (!at[0]) {
            lerr(ld, e, "missing \"model_name\" (the model name clients send)");
        } else {
            size_t o2 = path_key(ld, "model_name");
            name = read_group_name(ld, at[0]);
            path_pop(ld, o2);
        }
        struct dbuild scratch = {.at = e, .d.weight = 1};
        struct dbuild *db = &scratch;
        if (name)
            db = group_add(group_get(ld, name), e, ld->path.data);
        if (!at[1]) {
            lerr(ld, e, "missing \"litellm_params\" (with at least \"model\")");
        } else {
            size_t o2 = path_key(ld, "litellm_params");
            struct buf ignored = BUF_INIT;
            if (at[1]->kind != YN_MAP)
                lerr(ld, at[1], "expected a mapping, got %s", yn_what(at[1]));
            else
                read_fields(ld, db, at[1], litellm_fields,
                            sizeof litellm_fields / sizeof *litellm_fields, &ignored);
            if (ignored.len)
                lwarn(ld, at[1], "ignored (not used by tollgate): %s", ignored.data);
            buf_free(&ignored);
            path_pop(ld, o2);
        }
        if (at[2]) {
            size_t o2 = path_key(ld, "model_info");
            db->d.model_info = model_info_json(ld, at[2]);
            if (at[2]->kind == YN_MAP) {
                for (size_t j = 0; j + 1 < at[2]->n; j += 2) {
                    if (!yn_is(at[2]->kid[j], "id"))
                        continue;
                    size_t o3 = path_key(ld, "id");
                    const struct ynode *idv = at[2]->kid[j + 1];
                    if (read_string(ld, idv, &db->d.id) == 0)
                        read_id_check(ld, db, idv);
                    path_pop(ld, o3);
                }
            }
            path_pop(ld, o2);
        }
        if (at[1] && at[1]->kind == YN_MAP)
            resolve_deployment(ld, db);
        if (db == &scratch)
            dbuild_free(&scratch);
        free(name);
        path_pop(ld, old);
    }
}

typedef void (*section_fn)(struct loader *ld, const struct ynode *v);

static const struct section {
    const char *key;
    section_fn fn;
} sections[] = {
    {"server", sec_server},
    {"limits", sec_limits},
    {"models", sec_models},
    {"model_list", sec_model_list},
    {"general_settings", sec_general},
    {"litellm_settings", sec_ignored},
    {"router_settings", sec_ignored},
    {"environment_variables", sec_ignored},
};

/* ------------------------------------------------------------------------------------------------
 * Assembly: ids, disabled deployments, and the final struct config.
 */
static void assign_ids(struct loader *ld)
{
    struct strmap ids = {0};
    const struct ynode **where = NULL;
    size_t n_where = 0;

    for (size_t gi = 0; gi < ld->n_groups; gi++) {
        struct gbuild *g = &ld->groups[gi];
        for (size_t di = 0; di < g->n; di++) {
            struct dbuild *db = &g->deps[di];
            if (!db->d.id) {
                struct buf b = BUF_INIT;
                buf_printf(&b, "%s/%zu", g->name, di);
                db->d.id = buf_detach(&b);
            }
            const struct ynode *at = db->id_at ? db->id_at : db->at;
            size_t *first = strmap_get(&ids, db->d.id, strlen(db->d.id));
            if (first) {
                size_t old = ld->path.len;
                buf_puts(&ld->path, db->path);
                lerr(ld, at, "duplicate deployment id \"%s\" (first at line %d); ids must be "
                     "unique", db->d.id, where[*first]->line);
                path_pop(ld, old);
                continue;
            }
            where = xrealloc(where, (n_where + 1) * sizeof *where);
            where[n_where] = at;
            strmap_put(&ids, db->d.id, strlen(db->d.id), n_where++);
        }
    }
    free(where);
    strmap_free(&ids);
}

/* Moves the enabled deployments into ld->cfg->models, warning about disabled ones and dropped
 * groups. */
static void assemble(struct loader *ld)
{
    struct config *c = ld->cfg;
    c->models = xcalloc(ld->n_groups ? ld->n_groups : 1, sizeof *c->models);
    for (size_t gi = 0; gi < ld->n_groups; gi++) {
        struct gbuild *g = &ld->groups[gi];
        struct model_group *mg = &c->models[c->n_models];
        mg->deployments = xcalloc(g->n ? g->n : 1, sizeof *mg->deployments);
        for (size_t di = 0; di < g->n; di++) {
            struct dbuild *db = &g->deps[di];
            if (db->missing) {
                lwarn(ld, db->key_at, "model %s deployment %s disabled: %s is not set", g->name,
                      db->d.id, db->missing);
                continue;
            }
            mg->deployments[mg->n_deployments++] = db->d;
            memset(&db->d, 0, sizeof db->d);
        }
        if (!mg->n_deployments) {
            lwarn(ld, NULL, "model %s dropped: no deployment is enabled", g->name);
            free(mg->deployments);
            mg->deployments = NULL;
            continue;
        }
        mg->name = g->name;
        g->name = NULL;
        c->n_models++;
    }
}

static void loader_free(struct loader *ld)
{
    for (size_t gi = 0; gi < ld->n_groups; gi++) {
        struct gbuild *g = &ld->groups[gi];
        for (size_t di = 0; di < g->n; di++)
            dbuild_free(&g->deps[di]);
        free(g->deps);
        free(g->name);
    }
    free(ld->groups);
    strmap_free(&ld->group_idx);
    buf_free(&ld->path);
}

/* ------------------------------------------------------------------------------------------------
 * Public API.
 */
struct config *config_new_default(void)
{
    struct config *c = xcalloc(1, sizeof *c);
    c->host = xstrdup("127.0.0.1");
    c->port = 4000;
    c->workers = 0;
    c->access_log = xstrdup("stderr");
    c->log_level = xstrdup("info");
    c->limits = limits_default();
    c->refs = 1;
    return c;
}

static void config_free(struct config *c)
{
    for (size_t gi = 0; gi < c->n_models; gi++) {
        struct model_group *g = &c->models[gi];
        for (size_t di = 0; di < g->n_deployments; di++)
            deployment_free_fields(&g->deployments[di]);
        free(g->deployments);
        free(g->name);
    }
    free(c->models);
    free(c->path);
    free(c->host);
    if (c->master_key) {
        memset(c->master_key, 0, strlen(c->master_key));
        free(c->master_key);
    }
    free(c->access_log);
    free(c->log_level);
    for (char **h = c->forward_headers; h && *h; h++)
        free(*h);
    free(c->forward_headers);
    free(c);
}

struct config *config_ref(struct config *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void config_unref(struct config *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        config_free(c);
}

int config_load_string(const char *text, size_t len, const char *name, struct config **out,
                       struct buf *errors, struct buf *warnings)
{
    const char *top_keys[sizeof sections / sizeof *sections];
    struct loader ld = {.name = name ? name : "<config>", .errors = errors, .warnings = warnings};
    struct ytree t = {.ld = &ld};
    int rc;

    *out = NULL;
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        top_keys[i] = sections[i].key;
    ld.cfg = config_new_default();
    rc = ytree_build(&t, text ? text : "", text ? len : 0);
    if (rc != 0)
        goto out;

    const struct ynode *root = t.root;
    if (root && !yn_is_null(root) && root->kind != YN_MAP) {
        lerr(&ld, root, "expected a mapping at the top level (server:, models:, model_list: ...), "
             "got %s", yn_what(root));
    } else if (root && root->kind == YN_MAP) {
        for (size_t i = 0; i + 1 < root->n; i += 2) {
            const struct ynode *k = root->kid[i];
            int idx = key_index(k, top_keys, sizeof top_keys / sizeof *top_keys);
            if (idx < 0 && k->len > 2 && memcmp(k->text, "x-", 2) == 0)
                continue; /* an extension key, e.g. a home for anchors (as in compose files) */
            if (idx < 0) {
                unknown_key(&ld, k, "top-level key", top_keys,
                            sizeof top_keys / sizeof *top_keys);
                continue;
            }
            size_t old = path_key(&ld, sections[idx].key);
            sections[idx].fn(&ld, root->kid[i + 1]);
            path_pop(&ld, old);
        }
    }
    assign_ids(&ld);
    if (ld.n_errors) {
        rc = ERR_INVAL;
        goto out;
    }
    assemble(&ld);
    if (!ld.cfg->master_key)
        lwarn(&ld, NULL, "no master_key: /v1 accepts requests without a key (set "
              "server.master_key or general_settings.master_key)");
    *out = ld.cfg;
    ld.cfg = NULL;
out:
    if (ld.cfg)
        config_free(ld.cfg);
    loader_free(&ld);
    ytree_free(&t);
    return rc;
}

int config_load_file(const char *path, struct config **out, struct buf *errors,
                     struct buf *warnings)
{
    struct buf text = BUF_INIT;
    char chunk[65536];
    int rc = ERR_IO;
    FILE *f = fopen(path, "rb");

    *out = NULL;
    if (!f) {
        if (errors)
            buf_printf(errors, "%s: cannot open: %s\n", path, strerror(errno));
        return ERR_IO;
    }
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append_capped(&text, chunk, n, CONFIG_MAX_FILE_BYTES) != 0) {
            if (errors)
                buf_printf(errors, "%s: larger than %d bytes; is this the right file?\n", path,
                           CONFIG_MAX_FILE_BYTES);
            rc = ERR_TOO_LARGE;
            goto out;
        }
    }
    if (ferror(f)) {
        if (errors)
            buf_printf(errors, "%s: cannot read: %s\n", path, strerror(errno));
        goto out;
    }
    rc = config_load_string(text.data, text.len, path, out, errors, warnings);
    if (rc == 0)
        (*out)->path = xstrdup(path);
out:
    fclose(f);
    buf_free(&text);
    return rc;
}

const struct model_group *config_find_model(const struct config *c, const char *name, size_t len)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->n_models; i++) {
        const struct model_group *g = &c->models[i];
        if (strlen(g->name) == len && memcmp(g->name, name, len) == 0)
            return g;
    }
    return NULL;
}
