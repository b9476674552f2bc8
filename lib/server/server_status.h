/* server_status.h - the child's side of the master protocol, and stand-alone sessions */
#ifndef SERVER_SERVER_STATUS_H
#define SERVER_SERVER_STATUS_H

#include "mail/proto.h"
#include "server/server.h"

#define SERVER_STATUS_FD 3

void server_status_send(int fd, enum proto_msg msg);
int server_stdio_session(struct server_ctx *ctx);
void server_stdio_drain(void);

#endif
