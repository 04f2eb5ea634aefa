/* A task is a function pointer at the start of a larger struct (the
 * "data" lives around it, usually on the stack of the thread that joins
 * it).  Deques hold rt_task pointers; whoever pops or steals one calls
 * execute exactly once. */
#ifndef RT_TASK_H
#define RT_TASK_H

struct rt_task;
struct rt_participant;

typedef void (*rt_task_fn)(struct rt_task *task, struct rt_participant *self);

typedef struct rt_task {
    rt_task_fn execute;
} rt_task;

#endif /* RT_TASK_H */
