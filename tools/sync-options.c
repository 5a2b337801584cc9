// sync-options: what one durable commit of a 400-byte record costs on this disk, for each way of
// making it durable that issue 22 weighs (docs/benchmarks.md, "Against PostgreSQL"): LMDB's
// default commit (pages fdatasync'd, then the meta page written O_DSYNC: two ordered flushes);
// MDB_NOMETASYNC followed by mdb_env_sync before answering (still two); MDB_NOMETASYNC alone (one
// flush per commit, but the commit is durable only after the next one); the default commit on a
// data file extended with zeros beforehand; and a journal record written over a zero-filled,
// preallocated file (4 KiB and 512 B) or appended to a growing one, with one fdatasync each.
// Rounds alternate the options: on a shared VM the disk's speed drifts from one second to the next.
// Build and run: cc -O2 -o /tmp/sync-options tools/sync-options.c -llmdb && /tmp/sync-options DIR
// (DIR: a scratch directory on the disk to measure; it is deleted and recreated).
#define _GNU_SOURCE
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static double secs=2;
static double lmdb_run(const char*dir,unsigned flags,int forcesync,long prealloc){
  char cmd[512];snprintf(cmd,sizeof cmd,"rm -rf %s; mkdir -p %s",dir,dir);system(cmd);
  MDB_env*env;
  if(prealloc){mdb_env_create(&env);mdb_env_open(env,dir,0,0600);MDB_txn*t0;MDB_dbi d0;mdb_txn_begin(env,0,0,&t0);mdb_dbi_open(t0,0,0,&d0);mdb_txn_commit(t0);mdb_env_close(env);
    char p[512];snprintf(p,sizeof p,"%s/data.mdb",dir);int fd=open(p,O_WRONLY|O_APPEND,0600);char z[65536]={0};for(long o=0;o<prealloc;o+=sizeof z)write(fd,z,sizeof z);fsync(fd);close(fd);}
mdb_env_create(&env);mdb_env_set_mapsize(env,1L<<32);
  int rc=mdb_env_open(env,dir,flags,0600);if(rc){printf("open %s\n",mdb_strerror(rc));exit(1);}
  MDB_txn*t;MDB_dbi dbi;mdb_txn_begin(env,0,0,&t);mdb_dbi_open(t,0,0,&dbi);mdb_txn_commit(t);
  char v[400];memset(v,'x',sizeof v);unsigned long k=0;long n=0;double s=now();
  while(now()-s<secs){mdb_txn_begin(env,0,0,&t);unsigned long kb=__builtin_bswap64(k++);MDB_val key={8,&kb},val={400,v};
    mdb_put(t,dbi,&key,&val,MDB_APPEND);mdb_txn_commit(t);if(forcesync)mdb_env_sync(env,1);n++;}
  double r=n/(now()-s);mdb_env_close(env);return r;}
static double journal_run(const char*dir,int prealloc,int size){
  char cmd[512];snprintf(cmd,sizeof cmd,"rm -rf %s; mkdir -p %s",dir,dir);system(cmd);
  char p[512];snprintf(p,sizeof p,"%s/journal",dir);int fd=open(p,O_CREAT|O_RDWR,0600);
  if(prealloc){char z[65536]={0};for(long o=0;o<(64L<<20);o+=sizeof z)write(fd,z,sizeof z);fsync(fd);}
  char*b=aligned_alloc(4096,size);memset(b,'j',size);long n=0;off_t off=0;double s=now();
  while(now()-s<secs){pwrite(fd,b,size,off);off+=size;if(off>=(64L<<20))off=0;fdatasync(fd);n++;}
  double r=n/(now()-s);close(fd);return r;}
int main(int c,char**v){if(c<2){fprintf(stderr,"usage: sync-options DIR\n");return 2;}const char*d=v[1];
  for(int round=0;round<5;round++){
    printf("round %d: lmdb default %.0f | lmdb nometasync+env_sync %.0f | lmdb default, prealloc 256M %.0f | lmdb nometasync only (1 flush, ack lags) %.0f | journal 4K overwrite %.0f | journal 4K append %.0f | journal 512B overwrite %.0f\n",round,
      lmdb_run(d,MDB_NOTLS,0,0),lmdb_run(d,MDB_NOTLS|MDB_NOMETASYNC,1,0),lmdb_run(d,MDB_NOTLS,0,256L<<20),lmdb_run(d,MDB_NOTLS|MDB_NOMETASYNC,0,0),
      journal_run(d,1,4096),journal_run(d,0,4096),journal_run(d,1,512));fflush(stdout);}
  return 0;}
