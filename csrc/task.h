/* A task is a function pointer at the start of a larger struct (the
 * "data" lives around it, usually on the stack of the thread that joins
 * it).  Deques hold rt_task pointers; whoever pops or steals one calls
 * execute exactly once. */
#ifndef RT_TASK_H
#define RT_TASK_H

struct rt_task;
struct rt_participant;

typedef void (*rt_task_fn)(struct rt_task *task, struct rt_participant *self);

/* 8-byte aligned everywhere: deque entries carry a tag in the low 3 bits
 * of the pointer (deque.h, pool.c's job_tag). */
typedef struct rt_task {
    _Alignas(8) rt_task_fn execute;
} rt_task;

#endif /* RT_TASK_H */
