/* uk_ctx_switch(prev_sp, next_sp): save callee-saved registers on the
 * current stack, store %rsp in *prev_sp, load next_sp, restore, return. */
	.text
	.globl uk_ctx_switch
uk_ctx_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

/* First frame of a new thread: %rbx holds the thread record. */
	.globl uk_ctx_trampoline
uk_ctx_trampoline:
	movq %rbx, %rdi
	call uk_thread_main
	ud2

	.section .note.GNU-stack, "", @progbits
