/* Counters in an LMDB file: each END-OF-MESSAGE request checks and
 * charges inside a write transaction, so check-and-charge is atomic across
 * every daemon on the host (LMDB's writer lock lives in the lock file). */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MDB_NOSYNC: a process restart keeps every count, an OS crash may lose
 * the last minute (synced once a minute, by a thread of its own, and at
 * exit). The sync is an fdatasync of the whole file: with a few hundred
 * thousand credentials it took 60 ms, which on the event loop was 60 ms
 * of every connection waiting. Off the loop, it only competes for the
 * disk; LMDB's commits stay atomic whenever it runs (write order is kept).
 * RCPT-stage checks use read-only transactions, which take no lock.
 *
 * Group commit: the requests of one turn of the event loop share one write
 * transaction, committed once the turn's I/O callbacks have run, and each
 * is answered only after that commit. Committing writes every page the
 * transaction touched (a few pwrite calls: leaf, branches, free list,
 * meta); once per turn instead of once per message is about a fifth of the
 * daemon's time under load. Each request still sees every charge before
 * it, so counts stay exact; if the commit fails, every request of the turn
 * gets the store_down answer and none is charged, as one would alone. */
#define PS_LMDB_MAPSIZE   (1024UL * 1024 * 1024) /* 1 GB: ~1M windows */
#define PS_LMDB_GC_BATCH  5000 /* records looked at per tick */
#define PS_LMDB_BATCH     64 /* requests per commit at most (each holds ~30 KB) */
#define PS_LMDB_SYNC_SECS 60 /* the OS-crash loss the man page promises */

/* The thread that syncs the file once a minute, and how to stop it. */
typedef struct ps_lmdb_syncer {
    MDB_env *env;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: a clock step changes nothing */
    int running, stop;
} ps_lmdb_syncer;

typedef struct ps_lmdb_wait {
    ps_store_done done;
    void *arg;
} ps_lmdb_wait;

typedef struct ps_lmdb {
    ps_store base;
    MDB_env *env;
    MDB_dbi dbi;
    ps_log *lg;
    char gc_next[PS_STORE_MAX_KEY]; /* where the next sweep starts */
    size_t gc_next_len;
    MDB_txn *rtxn; /* the read-only transaction, reset between requests */
    MDB_txn *wtxn; /* the turn's write transaction, NULL if none is open */
    int wrc;       /* its first error: then it is aborted, not committed */
    ps_lmdb_wait wait[PS_LMDB_BATCH]; /* requests evaluated in wtxn */
    size_t nwait;
    struct event *commit; /* made active when wtxn opens */
    ps_lmdb_syncer sync;
} ps_lmdb;

static int ps_lmdb_env(const char *path, int flags, MDB_env **env, MDB_dbi *dbi,
                       ps_err *err)
{
    MDB_txn *txn;
    int rc;

    if ((rc = mdb_env_create(env)) != 0)
        return ps_err_set(err, "lmdb: %s", mdb_strerror(rc));
    mdb_env_set_mapsize(*env, PS_LMDB_MAPSIZE);
    rc = mdb_env_open(*env, path, MDB_NOSUBDIR | flags, 0600);
    if (rc == 0 && (rc = mdb_txn_begin(*env, NULL, 0, &txn)) == 0) {
        if ((rc = mdb_dbi_open(txn, NULL, 0, dbi)) == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0) {
        mdb_env_close(*env);
        *env = NULL;
        return ps_err_set(err, "lmdb:%s: %s", path, mdb_strerror(rc));
    }
    return 0;
}

static void ps_lmdb_load(MDB_txn *txn, MDB_dbi dbi, ps_store_query *q,
                         ps_log *lg)
{
    for (size_t i = 0; i < q->nitems; i++) {
        MDB_val k = {strlen(q->keys[i]), q->keys[i]}, v;
        ps_quota_state *st = &q->items[i].state;
        memset(st, 0, sizeof(*st));
        if (mdb_get(txn, dbi, &k, &v) != 0)
            continue;
        if (ps_quota_state_decode(v.mv_data, v.mv_size,
                                  q->items[i].win.period_ms, q->now, st) != 0) {
            ps_log_kv(lg, LOG_WARNING, "store_record_bad", "key", q->keys[i],
                      "action", "counter restarted", NULL);
            memset(st, 0, sizeof(*st));
        }
    }
}

static int ps_lmdb_save(MDB_txn *txn, MDB_dbi dbi, const ps_store_query *q)
{
    unsigned char buf[PS_QUOTA_STATE_MAX];

    for (size_t i = 0; i < q->nitems; i++) {
        MDB_val k = {strlen(q->keys[i]), (void *)q->keys[i]}, v;
        int rc;
        if (q->cost[q->items[i].win.measure] == 0)
            continue;
        v.mv_size = ps_quota_state_encode(&q->items[i].state, buf);
        v.mv_data = buf;
        if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
            return rc;
    }
    return 0;
}

/* RCPT-stage checks reuse one read-only transaction handle: renewing it
 * takes a fresh snapshot like a new one, without allocating it again and
 * again; reset lets go of the snapshot between requests. */
static int ps_lmdb_read_begin(ps_lmdb *l, MDB_txn **txn)
{
    int rc;

    if (l->rtxn != NULL && (rc = mdb_txn_renew(l->rtxn)) != 0) {
        mdb_txn_abort(l->rtxn);
        l->rtxn = NULL;
    }
    if (l->rtxn == NULL &&
        (rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn)) != 0) {
        l->rtxn = NULL;
        return rc;
    }
    *txn = l->rtxn;
    return 0;
}

/* Ends the turn's write transaction, committed or (at exit, when no
 * answer can reach anyone) aborted, and answers its requests. */
static void ps_lmdb_end(ps_lmdb *l, int commit)
{
    ps_lmdb_wait w[PS_LMDB_BATCH];
    size_t n = l->nwait;
    int rc = l->wrc;

    if (l->wtxn == NULL)
        return;
    if (commit && rc == 0)
        rc = mdb_txn_commit(l->wtxn);
    else
        mdb_txn_abort(l->wtxn);
    if (commit && rc != 0)
        ps_log_kv(l->lg, LOG_ERR, "store_error", "store", "lmdb", "reason",
                  mdb_strerror(rc), NULL);
    if (!commit)
        rc = -1;
    /* An answer may start the connection's next request, and a new
     * transaction: this one is closed and its list copied first. */
    l->wtxn = NULL;
    l->nwait = 0;
    memcpy(w, l->wait, n * sizeof(w[0]));
    for (size_t i = 0; i < n; i++)
        w[i].done(w[i].arg, rc == 0 ? 0 : -1);
}

/* After the I/O callbacks of the turn in which the transaction opened
 * (an event made active runs after those already queued). */
static void ps_lmdb_on_commit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ps_lmdb_end(arg, 1);
}

static void ps_lmdb_check(ps_lmdb *l, MDB_txn *txn, ps_store_query *q)
{
    q->now = ps_store_clock_ms();
    ps_lmdb_load(txn, l->dbi, q, l->lg);
    ps_quota_eval(q->items, q->nitems, q->cost, q->charge, q->now, q->warn_pct,
                  &q->verdict);
}

static int ps_lmdb_eval(ps_store *s, ps_store_query *q, ps_store_done done,
                        void *arg)
{
    ps_lmdb *l = (ps_lmdb *)s;
    MDB_txn *txn;
    int rc;

    if (l->nwait == PS_LMDB_BATCH)
        ps_lmdb_end(l, 1);
    /* A check with no transaction open: a read-only one, answered now. */
    if (!q->charge && l->wtxn == NULL) {
        if ((rc = ps_lmdb_read_begin(l, &txn)) == 0) {
            ps_lmdb_check(l, txn, q);
            mdb_txn_reset(txn);
        } else {
            ps_log_kv(l->lg, LOG_ERR, "store_error", "store", "lmdb", "reason",
                      mdb_strerror(rc), NULL);
        }
        return rc == 0 ? 0 : -1;
    }
    if (l->wtxn == NULL) {
        if ((rc = mdb_txn_begin(l->env, NULL, 0, &l->wtxn)) != 0) {
            l->wtxn = NULL;
            ps_log_kv(l->lg, LOG_ERR, "store_error", "store", "lmdb", "reason",
                      mdb_strerror(rc), NULL);
            return -1;
        }
        l->wrc = 0;
        event_active(l->commit, EV_TIMEOUT, 1);
    }
    /* Checks too, once a transaction is open: they see its charges. */
    if (l->wrc == 0) {
        ps_lmdb_check(l, l->wtxn, q);
        if (q->charge && !q->verdict.over)
            l->wrc = ps_lmdb_save(l->wtxn, l->dbi, q);
    }
    l->wait[l->nwait++] = (ps_lmdb_wait){done, arg};
    return PS_STORE_PENDING;
}

/* A record as the window its key names and the state it holds. */
static int ps_lmdb_record(const MDB_val *k, const MDB_val *v, uint64_t now,
                          ps_quota_window *w, ps_quota_state *st, size_t *owner)
{
    if (ps_store_key_window(k->mv_data, k->mv_size, w, owner) != 0 ||
        ps_quota_state_decode(v->mv_data, v->mv_size, w->period_ms, now, st) !=
            0)
        return -1;
    return 0;
}

static int ps_lmdb_is_supp(const MDB_val *k)
{
    return k->mv_size > 4 && memcmp(k->mv_data, PS_SUPP_PREFIX, 4) == 0;
}

/* A suppression record as its entry: -1 unreadable, 0 expired, 1 live. */
static int ps_lmdb_supp_read(const MDB_val *v, int64_t now, ps_supp_entry *e)
{
    if (ps_supp_parse(v->mv_data, v->mv_size, e) != 0)
        return -1;
    return e->until > now ? 1 : 0;
}

/* 1 if the record holds nothing that still counts. */
static int ps_lmdb_stale(const MDB_val *k, const MDB_val *v, uint64_t now)
{
    ps_quota_window w;
    ps_quota_state st;
    size_t owner;

    if (ps_lmdb_is_supp(k)) {
        ps_supp_entry e;
        return ps_lmdb_supp_read(v, (int64_t)(now / 1000), &e) != 1;
    }

    if (ps_lmdb_record(k, v, now, &w, &st, &owner) != 0)
        return 1;
    return ps_quota_used(&st, w.period_ms, now) == 0 && st.warned_until < now;
}

/* Deletes windows that emptied, a batch per tick, resuming where the last
 * batch stopped, so a huge file never stalls the loop. */
static void ps_lmdb_gc(ps_lmdb *l)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {l->gc_next_len, l->gc_next}, v;
    uint64_t now = ps_store_clock_ms();
    int rc, n = 0;

    if (mdb_txn_begin(l->env, NULL, 0, &txn) != 0)
        return;
    if (mdb_cursor_open(txn, l->dbi, &cur) != 0) {
        mdb_txn_abort(txn);
        return;
    }
    rc = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
    for (; rc == 0 && n < PS_LMDB_GC_BATCH; n++) {
        if (ps_lmdb_stale(&k, &v, now))
            mdb_cursor_del(cur, 0);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    l->gc_next_len = 0;
    if (rc == 0 && k.mv_size <= sizeof(l->gc_next)) {
        memcpy(l->gc_next, k.mv_data, k.mv_size);
        l->gc_next_len = k.mv_size;
    }
    mdb_cursor_close(cur);
    mdb_txn_commit(txn);
}

static void *ps_lmdb_sync_main(void *arg)
{
    ps_lmdb_syncer *y = arg;
    struct timespec due;

    pthread_mutex_lock(&y->mu);
    while (!y->stop) {
        clock_gettime(CLOCK_MONOTONIC, &due);
        due.tv_sec += PS_LMDB_SYNC_SECS;
        while (!y->stop &&
               pthread_cond_timedwait(&y->cv, &y->mu, &due) != ETIMEDOUT)
            ;
        if (y->stop)
            break;
        pthread_mutex_unlock(&y->mu);
        mdb_env_sync(y->env, 1); /* thread-safe: an fdatasync of the file */
        pthread_mutex_lock(&y->mu);
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

/* Signals stay with the event loop's thread: the syncer blocks them all. */
static int ps_lmdb_sync_start(ps_lmdb_syncer *y, MDB_env *env)
{
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    y->env = env;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&y->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    pthread_mutex_init(&y->mu, NULL);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&y->thread, NULL, ps_lmdb_sync_main, y);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&y->cv);
        pthread_mutex_destroy(&y->mu);
        return -1;
    }
    y->running = 1;
    return 0;
}

static void ps_lmdb_sync_stop(ps_lmdb_syncer *y)
{
    if (!y->running)
        return;
    pthread_mutex_lock(&y->mu);
    y->stop = 1;
    pthread_cond_signal(&y->cv);
    pthread_mutex_unlock(&y->mu);
    pthread_join(y->thread, NULL);
    pthread_cond_destroy(&y->cv);
    pthread_mutex_destroy(&y->mu);
    y->running = 0;
}

static int ps_lmdb_supp_get(ps_store *s, const char *key, int64_t now,
                            ps_supp_entry *e, ps_store_supp_done done,
                            void *arg)
{
    ps_lmdb *l = (ps_lmdb *)s;
    MDB_val k = {strlen(key), (void *)key}, v;
    MDB_txn *txn = l->wtxn; /* one transaction per thread: the open one */
    int rc, found = PS_STORE_SUPP_NONE;

    (void)done;
    (void)arg;
    if (txn == NULL && (rc = ps_lmdb_read_begin(l, &txn)) != 0) {
        ps_log_kv(l->lg, LOG_ERR, "store_error", "store", "lmdb", "reason",
                  mdb_strerror(rc), NULL);
        return -1;
    }
    rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == 0 && ps_lmdb_supp_read(&v, now, e) == 1)
        found = PS_STORE_SUPP_FOUND;
    if (txn != l->wtxn)
        mdb_txn_reset(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        ps_log_kv(l->lg, LOG_ERR, "store_error", "store", "lmdb", "reason",
                  mdb_strerror(rc), NULL);
        return -1;
    }
    return found;
}

static int ps_lmdb_supp_write(MDB_txn *txn, MDB_dbi dbi, const ps_supp_entry *e)
{
    char key[PS_SUPP_KEY_MAX], val[PS_SUPP_VALUE_MAX];
    MDB_val k = {PS_SUPP_KEY_MAX - 1, key}, v = {0, val};

    ps_supp_key(e, key);
    v.mv_size = ps_supp_format(e, val);
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* Into the turn's write transaction when one is open (a second one in
 * this thread would wait for ever on the first), else one of its own. */
static int ps_lmdb_supp_put(ps_store *s, const ps_supp_entry *e)
{
    ps_lmdb *l = (ps_lmdb *)s;
    MDB_txn *txn;
    int rc;

    if (l->wtxn != NULL) {
        if (l->wrc == 0)
            l->wrc = ps_lmdb_supp_write(l->wtxn, l->dbi, e);
        rc = l->wrc;
    } else if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) == 0) {
        if ((rc = ps_lmdb_supp_write(txn, l->dbi, e)) == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != 0)
        ps_log_kv(l->lg, LOG_ERR, "store_error", "store", "lmdb", "reason",
                  mdb_strerror(rc), NULL);
    return rc == 0 ? 0 : -1;
}

static void ps_lmdb_tick(ps_store *s)
{
    ps_lmdb *l = (ps_lmdb *)s;
    int dead = 0;

    ps_lmdb_end(l, 1); /* one write transaction at a time */
    mdb_reader_check(l->env, &dead);
    ps_lmdb_gc(l);
}

static void ps_lmdb_free(ps_store *s)
{
    ps_lmdb *l = (ps_lmdb *)s;

    if (l == NULL)
        return;
    ps_lmdb_end(l, 0);
    ps_lmdb_sync_stop(&l->sync);
    if (l->commit != NULL)
        event_free(l->commit);
    if (l->rtxn != NULL)
        mdb_txn_abort(l->rtxn);
    if (l->env != NULL) {
        mdb_env_sync(l->env, 1);
        mdb_env_close(l->env);
    }
    free(l);
}

ps_store *ps_store_lmdb_open(const char *path, struct event_base *base,
                             ps_log *lg, ps_err *err)
{
    ps_lmdb *l = calloc(1, sizeof(*l));

    if (l == NULL ||
        (l->commit = event_new(base, -1, 0, ps_lmdb_on_commit, l)) == NULL) {
        free(l);
        return ps_err_set(err, "out of memory"), NULL;
    }
    l->base.kind = "lmdb";
    l->base.eval = ps_lmdb_eval;
    l->base.tick = ps_lmdb_tick;
    l->base.free = ps_lmdb_free;
    l->base.supp_get = ps_lmdb_supp_get;
    l->base.supp_put = ps_lmdb_supp_put;
    l->lg = lg;
    if (ps_lmdb_env(path, MDB_NOSYNC, &l->env, &l->dbi, err) != 0) {
        event_free(l->commit);
        free(l);
        return NULL;
    }
    if (ps_lmdb_sync_start(&l->sync, l->env) != 0) {
        ps_lmdb_free(&l->base);
        return ps_err_set(err, "lmdb:%s: cannot start the sync thread", path),
               NULL;
    }
    return &l->base;
}

static int ps_lmdb_admin_one(MDB_cursor *cur, MDB_val *k, MDB_val *v, int reset,
                             ps_store_each each, void *arg, uint64_t now)
{
    ps_quota_window w;
    ps_quota_state st;
    size_t owner;

    if (ps_lmdb_record(k, v, now, &w, &st, &owner) != 0)
        return 0;
    if (each != NULL)
        each(arg, k->mv_data, owner, &w, &st, now);
    if (reset)
        return mdb_cursor_del(cur, 0) == 0 ? 1 : -1;
    return 1;
}

int ps_store_lmdb_admin(const char *path, const char *key, int reset,
                        ps_store_each each, void *arg, ps_err *err)
{
    char prefix[PS_STORE_MAX_KEY];
    size_t plen = 0;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, n = 0, one;

    if (key != NULL)
        plen = (size_t)snprintf(prefix, sizeof(prefix), "%s#", key);
    if (plen >= sizeof(prefix))
        return ps_err_set(err, "key too long");
    if (ps_lmdb_env(path, 0, &env, &dbi, err) != 0)
        return -1;
    if ((rc = mdb_txn_begin(env, NULL, reset ? 0 : MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
        mdb_env_close(env);
        return ps_err_set(err, "lmdb:%s: %s", path, mdb_strerror(rc));
    }
    k.mv_size = plen;
    k.mv_data = prefix;
    rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if ((one = ps_lmdb_admin_one(cur, &k, &v, reset, each, arg,
                                     ps_store_clock_ms())) < 0)
            break;
        n += one;
    }
    mdb_cursor_close(cur);
    rc = reset ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), 0);
    mdb_env_close(env);
    if (rc != 0)
        return ps_err_set(err, "lmdb:%s: %s", path, mdb_strerror(rc));
    return n;
}

/* list walks the "sup:" records; add and remove touch one. */
static int ps_lmdb_supp_walk(MDB_txn *txn, MDB_dbi dbi, ps_supp_verb verb,
                             const ps_supp_entry *e, int64_t now,
                             ps_supp_each each, void *arg)
{
    char key[PS_SUPP_KEY_MAX];
    MDB_val k = {4, PS_SUPP_PREFIX}, v;
    MDB_cursor *cur;
    ps_supp_entry found;
    int rc, n = 0;

    if (verb == PS_SUPP_ADD)
        return ps_lmdb_supp_write(txn, dbi, e) == 0 ? 1 : -1;
    if (verb == PS_SUPP_REMOVE) {
        ps_supp_key(e, key);
        k = (MDB_val){PS_SUPP_KEY_MAX - 1, key};
        rc = mdb_del(txn, dbi, &k, NULL);
        return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
    }
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return -1;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && ps_lmdb_is_supp(&k);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (ps_lmdb_supp_read(&v, now, &found) == 1 && n++ >= 0)
            each(arg, &found);
    mdb_cursor_close(cur);
    return n;
}

int ps_store_lmdb_supp_admin(const char *path, ps_supp_verb verb,
                             const ps_supp_entry *e, int64_t now,
                             ps_supp_each each, void *arg, ps_err *err)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc, n;

    if (ps_lmdb_env(path, 0, &env, &dbi, err) != 0)
        return -1;
    rc = mdb_txn_begin(env, NULL, verb == PS_SUPP_LIST ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        mdb_env_close(env);
        return ps_err_set(err, "lmdb:%s: %s", path, mdb_strerror(rc));
    }
    n = ps_lmdb_supp_walk(txn, dbi, verb, e, now, each, arg);
    if (n < 0 || verb == PS_SUPP_LIST)
        mdb_txn_abort(txn);
    else if ((rc = mdb_txn_commit(txn)) != 0)
        n = -1;
    mdb_env_close(env);
    if (n < 0)
        return ps_err_set(err, "lmdb:%s: %s", path,
                          rc != 0 ? mdb_strerror(rc) : "write failed");
    return n;
}
