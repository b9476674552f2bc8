/* postern.h - the verbs of the postern administrator command */
#ifndef POSTERN_POSTERN_H
#define POSTERN_POSTERN_H

int postern_conf_main(int argc, char **argv);
int postern_map_main(int argc, char **argv);

#endif
