// Accepts TCP connections on 0.0.0.0:PORT and closes them at once (the endpoints of health-cpu.sh).
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
int main(int argc,char**argv){int port=atoi(argv[1]);int s=socket(AF_INET,SOCK_STREAM,0);int one=1;setsockopt(s,SOL_SOCKET,SO_REUSEADDR,&one,4);
struct sockaddr_in a={0};a.sin_family=AF_INET;a.sin_port=htons(port);bind(s,(void*)&a,sizeof a);listen(s,4096);
for(;;){int c=accept(s,0,0);if(c>=0)close(c);}}
