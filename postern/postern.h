/* postern.h - the verbs of the postern administrator command */
#ifndef POSTERN_POSTERN_H
#define POSTERN_POSTERN_H

int postern_conf_main(int argc, char **argv);
int postern_map_main(int argc, char **argv);
int postern_alias_main(int argc, char **argv);
int postern_newaliases_main(int argc, char **argv);
int postern_check_main(int argc, char **argv);
int postern_start_main(int argc, char **argv);
int postern_start_fg_main(int argc, char **argv);
int postern_stop_main(int argc, char **argv);
int postern_reload_main(int argc, char **argv);
int postern_status_main(int argc, char **argv);

char *postern_config_dir(void);

#endif
